// Plain JavaScript that every Node.js since 12 can run, so that an old Node is told what to install
// instead of failing on the TypeScript sources with ERR_UNKNOWN_FILE_EXTENSION.

export const REQUIRED = [22, 22];

/** Why this Node cannot run Kappa, for people, or null when it can. */
export function nodeProblem(version) {
  const [major, minor] = String(version).replace(/^v/, '').split('.').map(Number);
  if (major > REQUIRED[0] || (major === REQUIRED[0] && minor >= REQUIRED[1])) return null;
  return [
    `kappa needs Node.js ${REQUIRED.join('.')} or newer (24 LTS recommended); this is Node.js ${version}.`,
    'Install Node.js 24 with:  npm install -g --prefix /usr/local node@24   (or: nvm install 24)',
    'then check with:          node --version',
  ].join('\n');
}
