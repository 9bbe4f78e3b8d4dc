// Flags: the command-line parser every edgebed command uses.
//
// A command declares its flags with a name, a help line and where the value
// goes; Parse() fills them, prints --help, and refuses unknown flags, missing
// values and malformed numbers with a message that names the flag and the
// fix. Both "--name value" and "--name=value" are accepted.
//
//   Flags flags("edgebed-sim run", "Runs the demo on an ns-3 edge topology.");
//   flags.Int("seed", "random seed", &seed);
//   if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace edgebed::tools {

class Flags {
 public:
  Flags(std::string command, std::string summary);

  void String(const std::string& name, const std::string& help, std::string* out);
  // The same, also given as "-SHORT value" (e.g. "-o report.html").
  void String(const std::string& name, const std::string& short_name, const std::string& help,
              std::string* out);
  void Int(const std::string& name, const std::string& help, int64_t* out);
  void Double(const std::string& name, const std::string& help, double* out);
  void Duration(const std::string& name, const std::string& help, std::chrono::nanoseconds* out);
  // A switch: "--name" sets it; "--name=false" clears it.
  void Bool(const std::string& name, const std::string& help, bool* out);
  // A flag that may be given many times ("-f a.yaml -f b.yaml"); `short_name` may be empty.
  void Repeated(const std::string& name, const std::string& short_name, const std::string& help,
                std::vector<std::string>* out);
  // Words that are not flags go here; without it they are an error.
  void Positional(const std::string& what, std::vector<std::string>* out);

  // Parses argv[first..]. Returns -1 to go on, 0 after printing --help, 2 on
  // bad usage (after printing the error and a hint to stderr).
  int Parse(int argc, char** argv, int first = 1);

  std::string Usage() const;

 private:
  struct Flag {
    std::string name, short_name, help, kind, shown_default;
    bool repeated = false;
    std::function<Status(const std::string&)> set;
    bool is_switch = false;  // takes no separate value
  };
  const Flag* Find(const std::string& name) const;

  std::string command_, summary_;
  std::vector<Flag> flags_;
  std::string positional_what_;
  std::vector<std::string>* positional_ = nullptr;
};

// "ADDRESS:PORT" (IPv6 as "[ADDRESS]:PORT"), as every command's flags take
// an endpoint: an IP address (names are not resolved) and a port 1..65535,
// or 0 too where `allow_any_port`. Without ":PORT" the text is `default_port`
// when there is one. Errors name `flag` and show how to write it.
struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};
StatusOr<HostPort> ParseHostPort(const std::string& text, const std::string& flag, bool allow_any_port = false,
                                 std::optional<uint16_t> default_port = std::nullopt);

}  // namespace edgebed::tools
