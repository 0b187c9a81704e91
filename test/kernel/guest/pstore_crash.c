// SPDX-License-Identifier: GPL-2.0
/*
 * pstore_crash: a test-only module that oopses on request, so that pstore
 * backends have something real to record.
 *
 * Writing "null" to /sys/kernel/debug/pstore_crash/trigger stores through a
 * NULL pointer; writing "bug" hits BUG().  Both happen in the writer's
 * process context, so with panic_on_oops=0 the kernel kills only the writing
 * process and keeps running: each write yields one "Oops" kmsg dump.
 * Anything else is rejected with EINVAL, so a typo never goes unnoticed.
 */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/atomic.h>

static struct dentry *crash_dir;
static atomic_t crash_count = ATOMIC_INIT(0);

/* Kept out of line so the oops names a recognisable function. */
static noinline void crash_store_through_null(void)
{
	int *volatile target = NULL;

	*target = 0x2a;
}

static ssize_t crash_trigger_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	char buf[16];
	size_t n = min(len, sizeof(buf) - 1);
	char *cmd;

	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	buf[n] = '\0';
	cmd = strim(buf);

	if (strcmp(cmd, "null") && strcmp(cmd, "bug"))
		return -EINVAL;

	pr_info("pstore_crash: trigger #%d '%s'\n",
		atomic_inc_return(&crash_count), cmd);
	if (!strcmp(cmd, "null"))
		crash_store_through_null();
	else
		BUG();
	/* Not reached: both paths oops and the writer is killed. */
	return len;
}

static const struct file_operations crash_trigger_fops = {
	.owner = THIS_MODULE,
	.write = crash_trigger_write,
	.llseek = noop_llseek,
};

static int __init crash_init(void)
{
	crash_dir = debugfs_create_dir("pstore_crash", NULL);
	debugfs_create_file("trigger", 0200, crash_dir, NULL, &crash_trigger_fops);
	pr_info("pstore_crash: loaded\n");
	return 0;
}

static void __exit crash_exit(void)
{
	debugfs_remove_recursive(crash_dir);
}

module_init(crash_init);
module_exit(crash_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only module: oops on request via debugfs");
