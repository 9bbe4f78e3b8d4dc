// edgebed report: a results database made into a page a person reads.
//
//   edgebed report RESULTS.db [MORE.db ...] [-o report.html] [--csv DIR] [--gnuplot PROGRAM]
//
// Writes one self-contained HTML file (plots inlined as SVG, drawn by
// gnuplot; nothing fetched from the network) for every run of the databases,
// by default beside the first database with .html for .db; with --csv, also
// one CSV file per series into DIR (then the page only if -o is given).
// Prints the paths it wrote. See reports/report.h for what the page holds.
#pragma once

namespace edgebed::tools {

// argv[0] is "report". Exit code: 0 when everything was written; 1 when a
// database cannot be read (missing, foreign, damaged, empty), gnuplot is
// missing or fails, or an output cannot be written; 2 on bad usage.
int RunReport(int argc, char** argv);

}  // namespace edgebed::tools
