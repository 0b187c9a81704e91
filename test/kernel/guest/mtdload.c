/*
 * mtdload: put a raw image onto an MTD character device inside the test VM.
 *
 *   mtdload /dev/mtdN IMAGE   erase every good block, then program only the
 *                             pages of IMAGE that are not all 0xFF
 *   mtdload -e /dev/mtdN      erase every good block, write nothing
 *
 * Pages that are all 0xFF are left erased instead of programmed, so the
 * flash ends up as if a driver had written exactly the non-empty pages
 * (on NAND a programmed all-0xFF page is not the same as an erased one for a
 * later write).  Bad blocks are skipped, not written, and reported.
 * busybox has no flash_erase/nandwrite, hence this small static helper.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mtd/mtd-user.h>

static int all_ff(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0xff)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	int erase_only = argc == 3 && !strcmp(argv[1], "-e");
	if (argc != 3) {
		fprintf(stderr, "usage: mtdload /dev/mtdN IMAGE | mtdload -e /dev/mtdN\n");
		return 2;
	}
	const char *dev = erase_only ? argv[2] : argv[1];
	int fd = open(dev, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "mtdload: open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	struct mtd_info_user info;
	if (ioctl(fd, MEMGETINFO, &info) < 0) {
		fprintf(stderr, "mtdload: MEMGETINFO %s: %s\n", dev, strerror(errno));
		return 1;
	}
	unsigned char *image = NULL;
	if (!erase_only) {
		int in = open(argv[2], O_RDONLY);
		struct stat st;
		if (in < 0 || fstat(in, &st) < 0) {
			fprintf(stderr, "mtdload: open %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		/* A size mismatch almost always means the wrong geometry: refuse. */
		if ((uint64_t)st.st_size != info.size) {
			fprintf(stderr, "mtdload: %s is %lld bytes but %s is %u bytes\n",
				argv[2], (long long)st.st_size, dev, info.size);
			return 1;
		}
		image = malloc(info.size);
		if (!image || read(in, image, info.size) != (ssize_t)info.size) {
			fprintf(stderr, "mtdload: reading %s failed\n", argv[2]);
			return 1;
		}
		close(in);
	}
	unsigned erased = 0, written = 0, bad = 0;
	for (uint32_t off = 0; off < info.size; off += info.erasesize) {
		loff_t pos = off;
		int isbad = ioctl(fd, MEMGETBADBLOCK, &pos);
		if (isbad > 0) {
			bad++;
			continue;
		}
		struct erase_info_user ei = { .start = off, .length = info.erasesize };
		if (ioctl(fd, MEMERASE, &ei) < 0) {
			fprintf(stderr, "mtdload: erase at 0x%x: %s\n", off, strerror(errno));
			return 1;
		}
		erased++;
		if (erase_only)
			continue;
		for (uint32_t p = off; p < off + info.erasesize; p += info.writesize) {
			if (all_ff(image + p, info.writesize))
				continue;
			if (pwrite(fd, image + p, info.writesize, p) != (ssize_t)info.writesize) {
				fprintf(stderr, "mtdload: write at 0x%x: %s\n", p, strerror(errno));
				return 1;
			}
			written++;
		}
	}
	printf("mtdload: %s size=%u erasesize=%u writesize=%u: erased %u blocks, "
	       "programmed %u pages, skipped %u bad blocks\n",
	       dev, info.size, info.erasesize, info.writesize, erased, written, bad);
	return 0;
}
