#include "tools/flags.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/base/closest.h"
#include "core/base/ip.h"
#include "core/base/units.h"

namespace edgebed::tools {
namespace {

std::string FormatDuration(std::chrono::nanoseconds d) {
  const int64_t ns = d.count();
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  return std::to_string(ns) + "ns";
}

}  // namespace

Flags::Flags(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void Flags::String(const std::string& name, const std::string& help, std::string* out) {
  flags_.push_back({name, "", help, "TEXT", out->empty() ? "" : *out, false,
                    [out](const std::string& v) {
                      *out = v;
                      return Status::Ok();
                    }});
}

void Flags::String(const std::string& name, const std::string& short_name,
                   const std::string& help, std::string* out) {
  String(name, help, out);
  flags_.back().short_name = short_name;
}

void Flags::Int(const std::string& name, const std::string& help, int64_t* out) {
  flags_.push_back({name, "", help, "N", std::to_string(*out), false,
                    [out, name](const std::string& v) {
                      errno = 0;
                      char* end = nullptr;
                      const long long x = std::strtoll(v.c_str(), &end, 10);
                      if (v.empty() || *end != '\0' || errno == ERANGE) {
                        return InvalidArgument("\"" + v + "\" is not a whole number",
                                               "--" + name);
                      }
                      *out = x;
                      return Status::Ok();
                    }});
}

void Flags::Double(const std::string& name, const std::string& help, double* out) {
  std::ostringstream shown;
  shown << *out;
  flags_.push_back({name, "", help, "X", shown.str(), false, [out, name](const std::string& v) {
                      char* end = nullptr;
                      const double x = std::strtod(v.c_str(), &end);
                      if (v.empty() || *end != '\0') {
                        return InvalidArgument("\"" + v + "\" is not a number", "--" + name);
                      }
                      *out = x;
                      return Status::Ok();
                    }});
}

void Flags::Duration(const std::string& name, const std::string& help,
                     std::chrono::nanoseconds* out) {
  flags_.push_back({name, "", help, "DURATION", FormatDuration(*out), false,
                    [out, name](const std::string& v) {
                      auto d = ParseDuration(v);
                      if (!d.ok()) return Status(d.status()).WithContext("--" + name);
                      *out = *d;
                      return Status::Ok();
                    }});
}

void Flags::Bool(const std::string& name, const std::string& help, bool* out) {
  flags_.push_back({name, "", help, "", "", false,
                    [out, name](const std::string& v) {
                      if (v != "true" && v != "false") {
                        return InvalidArgument("\"" + v + "\" is not true or false", "--" + name);
                      }
                      *out = v == "true";
                      return Status::Ok();
                    },
                    true});
}

void Flags::Repeated(const std::string& name, const std::string& short_name,
                     const std::string& help, std::vector<std::string>* out) {
  flags_.push_back({name, short_name, help, "TEXT", "", true, [out](const std::string& v) {
                      out->push_back(v);
                      return Status::Ok();
                    }});
}

void Flags::Positional(const std::string& what, std::vector<std::string>* out) {
  positional_what_ = what;
  positional_ = out;
}

const Flags::Flag* Flags::Find(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name || (!f.short_name.empty() && f.short_name == name)) return &f;
  }
  return nullptr;
}

std::string Flags::Usage() const {
  std::ostringstream out;
  out << "Usage: " << command_ << " [flags]" << (positional_ ? " " + positional_what_ : "")
      << "\n\n"
      << summary_ << "\n\nFlags:\n";
  for (const auto& f : flags_) {
    std::string left = "  " + (f.short_name.empty() ? "" : "-" + f.short_name + ", ") + "--" +
                       f.name + (f.kind.empty() ? "" : " " + f.kind);
    if (left.size() < 30) left.resize(30, ' ');
    out << left << " " << f.help;
    if (!f.shown_default.empty()) out << " (default " << f.shown_default << ")";
    if (f.repeated) out << " (may be repeated)";
    out << "\n";
  }
  out << "  --help                       show this help\n";
  return out.str();
}

int Flags::Parse(int argc, char** argv, int first) {
  auto fail = [this](const std::string& message) {
    std::cerr << command_ << ": " << message << "\nRun '" << command_
              << " --help' for the flags.\n";
    return 2;
  };
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << Usage();
      return 0;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (!positional_) return fail("unexpected argument '" + arg + "'");
      positional_->push_back(arg);
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = Find(name);
    if (!flag) {
      std::vector<std::string> names;
      for (const auto& f : flags_) names.push_back(f.name);
      const std::string near = ClosestName(name, names);
      return fail("unknown flag '" + arg + "'" + (near.empty() ? "" : "; did you mean '--" + near + "'?"));
    }
    if (!has_value && flag->is_switch) {
      value = "true";
      has_value = true;
    }
    if (!has_value) {
      if (i + 1 >= argc) return fail("flag '--" + flag->name + "' needs a value");
      value = argv[++i];
    }
    if (Status s = flag->set(value); !s.ok()) return fail(s.ToString());
  }
  return -1;
}

StatusOr<HostPort> ParseHostPort(const std::string& text, const std::string& flag, bool allow_any_port,
                                 std::optional<uint16_t> default_port) {
  const std::string example = "e.g. 10.0.0.1:" + std::to_string(default_port.value_or(7001));
  IpPrefix ip;
  HostPort out;
  const size_t colon = text.rfind(':');
  const bool bare = default_port && (colon == std::string::npos || ParseIpAddress(text, &ip));
  if (bare) {
    out.host = text;
    out.port = *default_port;
  } else {
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
      return InvalidArgument("\"" + text + "\" is not ADDRESS:PORT, " + example, flag);
    out.host = text.substr(0, colon);
    const std::string port = text.substr(colon + 1);
    char* end = nullptr;
    errno = 0;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || errno != 0 || p < (allow_any_port ? 0 : 1) || p > 65535) {
      return InvalidArgument("\"" + port + "\" is not a port number " + (allow_any_port ? "0" : "1") + "..65535",
                             flag);
    }
    out.port = static_cast<uint16_t>(p);
  }
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (!ParseIpAddress(out.host, &ip))
    return InvalidArgument("\"" + out.host + "\" is not an IP address (names are not resolved here); write ADDRESS:PORT, " + example, flag);
  return out;
}

}  // namespace edgebed::tools
