// hashFiles() as the GitHub runner computes it: @actions/glob over newline-separated patterns,
// run from the workspace; files outside it and directories are left out; the result is sha256
// over each file's sha256, in the order the globber yields them. Prints JSON: files and digest.
const crypto = require('crypto')
const fs = require('fs')
const path = require('path')
const glob = require('@actions/glob')

async function main() {
  const workspace = process.cwd()
  const patterns = process.argv.slice(2).join('\n')
  const globber = await glob.create(patterns, {followSymbolicLinks: false})
  const combined = crypto.createHash('sha256')
  const files = []
  for await (const file of globber.globGenerator()) {
    if (!file.startsWith(workspace + path.sep) || fs.statSync(file).isDirectory()) continue
    combined.update(crypto.createHash('sha256').update(fs.readFileSync(file)).digest())
    files.push(path.relative(workspace, file).split(path.sep).join('/'))
  }
  process.stdout.write(JSON.stringify({files, digest: files.length ? combined.digest('hex') : ''}))
}

main().catch(error => { console.error(error); process.exit(1) })
