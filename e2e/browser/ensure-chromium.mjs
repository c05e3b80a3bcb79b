// Finds the Chromium the browser suite drives, or installs it the one way that works here, and
// says which: $CHROMIUM_PATH, else Debian's /usr/bin/chromium, else (root with apt-get) Debian's
// chromium package. Playwright's own browser download is never used. `npm test` runs this before
// Playwright, so the README's test command works on a fresh machine, not only under .ci/run;
// with no way to get a browser it exits non-zero with what to do, and the suite counts as failed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';

function sh(command, args) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return result.status === 0;
}

if (process.env.CHROMIUM_PATH) {
  console.log(`browser suite: using CHROMIUM_PATH=${process.env.CHROMIUM_PATH}`);
} else if (existsSync(DEBIAN_CHROMIUM)) {
  console.log(`browser suite: using Debian's ${DEBIAN_CHROMIUM}`);
} else if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0) {
  console.log("browser suite: no /usr/bin/chromium; installing Debian's chromium package with apt-get");
  if (!(sh('apt-get', ['update', '-qq']) && sh('apt-get', ['install', '-y', '-qq', 'chromium']) && existsSync(DEBIAN_CHROMIUM))) {
    console.error('browser suite: apt-get could not install chromium; install it (apt-get install chromium) or set CHROMIUM_PATH');
    process.exit(1);
  }
} else {
  console.error('browser suite: no Chromium found: install Debian\'s chromium (apt-get install chromium, as root) or set CHROMIUM_PATH to a Chromium binary');
  process.exit(1);
}
