// A node:test reporter for scripts/run-tests.mjs: writes the path of every test file that ran a
// test, once, so the runner can name the files that ran none. Node reports a file that defines no
// test as one passing test named after the file: that one does not count; a failure of the whole
// file (it did not load, its watchdog ended it) does, being reported already.
export default async function* testFiles(source) {
  const seen = new Set();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file || seen.has(file)) continue;
    if ((event.type === 'test:start' && event.data.name !== file) || event.type === 'test:fail') {
      seen.add(file);
      yield `${file}\n`;
    }
  }
}
