#include "core/base/status.h"

namespace edgebed {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kIoError: return "IO_ERROR";
    case StatusCode::kCorruption: return "CORRUPTION";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
  }
  return "UNKNOWN";
}

Status Status::WithContext(const std::string& outer) const {
  if (ok() || outer.empty()) return *this;
  std::string where = outer;
  if (!where_.empty()) {
    // A position ("file:line:col") is followed by ": "; a field path continues
    // with "." before a name and nothing before an index.
    if (outer.find(':') != std::string::npos) {
      where += ": ";
    } else if (where_.front() != '[' && where_.front() != '.') {
      where += ".";
    }
    where += where_;
  }
  return Status(code_, message_, std::move(where));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  if (where_.empty()) return message_;
  return where_ + ": " + message_;
}

}  // namespace edgebed
