// Prints one plain closing line, "N passed, N failed, N skipped", after jest's own summary, so
// that CI logs state the count in a form any reader can parse.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    process.stderr.write(
      `\n${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped\n`
    );
  }
}
module.exports = SummaryReporter;
