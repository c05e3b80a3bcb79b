// Finds a Chromium for the browser suite, or gets one the way this machine allows, and says
// which: $CHROMIUM_PATH, else Debian's /usr/bin/chromium, else (root on Debian) apt-get's
// chromium package, else Playwright's own download. `npm test` runs it before Playwright, so
// the README's test command works on a fresh machine, not only under .ci/run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function sh(command, args) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return result.status === 0;
}

const hasAptGet = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
if (process.env.CHROMIUM_PATH) {
  console.log(`browser suite: using CHROMIUM_PATH=${process.env.CHROMIUM_PATH}`);
} else if (existsSync('/usr/bin/chromium')) {
  console.log("browser suite: using Debian's /usr/bin/chromium");
} else if (process.getuid?.() === 0 && hasAptGet) {
  console.log("browser suite: no /usr/bin/chromium; installing Debian's chromium package with apt-get");
  if (!(sh('apt-get', ['update', '-qq']) && sh('apt-get', ['install', '-y', '-qq', 'chromium']) && existsSync('/usr/bin/chromium'))) {
    console.log("browser suite: apt-get could not install chromium; trying Playwright's own download");
    sh('npx', ['playwright', 'install', 'chromium']);
  }
} else {
  console.log("browser suite: no /usr/bin/chromium and not root with apt-get; downloading Playwright's own Chromium");
  sh('npx', ['playwright', 'install', 'chromium']);
}
