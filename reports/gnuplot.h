// Gnuplot: draws the report's plots by running gnuplot as a child process.
//
// A plot is a gnuplot script (data inline, as datablocks) written to the
// child's standard input; what the child writes to its standard output is the
// plot (an SVG document, with the script's `set terminal svg`). Nothing is
// written to disk and the script never reaches a shell.
//
// What it promises.
//  - Errors as values: gnuplot missing (with the package that provides it),
//    a script gnuplot rejects (with what gnuplot said on stderr), a child that
//    exits non-zero or is killed, or one that outlives the timeout (it is then
//    killed and reaped). Nothing throws.
//  - No zombies and no leaked descriptors, whatever happens.
//  - The same script gives the same bytes: gnuplot's SVG carries no date.
//
//   auto svg = reports::RunGnuplot("set terminal svg\nplot sin(x)\n");
//   if (!svg.ok()) return svg.status();
#pragma once

#include <chrono>
#include <string>

#include "core/base/status.h"

namespace edgebed::reports {

struct GnuplotOptions {
  // The program to run: a name looked up in PATH, or a path.
  std::string program = "gnuplot";
  // How long one script may take before the child is killed.
  std::chrono::milliseconds timeout{30'000};
};

// Runs `script` through gnuplot and returns what it wrote to stdout.
// Errors: kNotFound if the program cannot be found or run (the message says
// how to install it); kInvalidArgument if gnuplot reported an error in the
// script (its message included); kDeadlineExceeded after the timeout;
// kIoError if the pipes or the child could not be set up, or the child died.
StatusOr<std::string> RunGnuplot(const std::string& script, const GnuplotOptions& options = {});

}  // namespace edgebed::reports
