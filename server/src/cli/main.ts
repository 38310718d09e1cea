// Placeholder: filled in by the CLI work.
process.stderr.write('tsdbdump: not built yet\n'); process.exitCode = 2;
