#!/usr/bin/env node
/**
 * mtdpstore — the command line. A thin shell over src/api and the library:
 * every command parses its options, calls one library function and prints.
 */
import { Command } from 'commander';
import { registerArchive } from './commands/archive.js';
import { registerCat } from './commands/cat.js';
import { registerCreate } from './commands/create.js';
import { registerDemo } from './commands/demo.js';
import { registerDump } from './commands/dump.js';
import { registerExtract } from './commands/extract.js';
import { registerInfo } from './commands/info.js';
import { registerLs } from './commands/ls.js';
import { registerReplay } from './commands/replay.js';
import { registerRm } from './commands/rm.js';
import { EXIT, EXIT_HELP } from './exit-codes.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mtdpstore')
    .description(
      'Read, write and simulate Linux pstore crash logs on raw flash (mtdpstore), pstore/blk disks and mtdoops partitions,\n' +
        'byte-compatible with the kernel. Reading commands never modify their input; writing commands need --write.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `\nStart with:\n  mtdpstore demo                 store an oops and a panic on a simulated NAND, list and print them\n  mtdpstore ls dump.img          list the crash logs in a flash dump\n  mtdpstore extract dump.img out/  recreate /sys/fs/pstore from a dump\n\n${EXIT_HELP}\n`,
    );
  program.exitOverride((err) => {
    // commander's own errors (unknown option, missing argument) are usage errors.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(EXIT.OK);
    process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  });
  registerInfo(program);
  registerLs(program);
  registerCat(program);
  registerExtract(program);
  registerArchive(program);
  registerRm(program);
  registerDump(program);
  registerCreate(program);
  registerReplay(program);
  registerDemo(program);
  return program;
}

const invokedDirectly = process.argv[1] !== undefined && /(?:^|[\\/])(?:main\.[jt]s|mtdpstore)$/.test(process.argv[1]);
if (invokedDirectly) {
  const program = buildProgram();
  if (process.argv.length <= 2) {
    program.outputHelp();
    process.exitCode = EXIT.OK;
  } else {
    await program.parseAsync(process.argv);
  }
}
