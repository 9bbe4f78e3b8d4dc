// Status and StatusOr<T>: the one error type of the edgebed core.
//
// Errors are values, not exceptions. A Status carries a code, a message that
// says what is wrong and how to fix it, and where it went wrong: a source
// position ("site.yaml:12:7"), a field path ("spec.containers[0].resources"),
// or both. Code that returns a Status never throws across an Env callback.
//
//   StatusOr<Quantity> q = ParseQuantity("250m");
//   if (!q.ok()) return q.status();
//   use(*q);
//
// Printing: ToString() gives "where: message" — the form tools show users.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace edgebed {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input: a manifest, a flag, a message off the wire
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a create collided with an existing thing
  kFailedPrecondition,  // the system is not in a state that allows this
  kUnavailable,         // try again later: a peer, a disk, a link is down
  kIoError,             // a disk or socket operation failed
  kCorruption,          // stored or received bytes fail their checks
  kResourceExhausted,   // a bound was hit: size, capacity, queue length
  kDeadlineExceeded,    // a timeout fired before an answer came
  kInternal,            // a broken invariant inside edgebed: a bug
  kPermissionDenied,    // the caller did not prove who it is, or may not do this
  kOutOfRange,          // past the valid range, e.g. a revision already compacted away
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::string where = {})
      : code_(code), message_(std::move(message)), where_(std::move(where)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The place the error refers to: "file:line:column", a field path, or empty.
  const std::string& where() const { return where_; }

  // Returns a copy whose location is `outer` followed by this one's, so a
  // nested parser can say "ports[1]", its caller prefix "spec" (giving
  // "spec.ports[1]") and the loader "pods.yaml:4:3: spec.ports[1]".
  Status WithContext(const std::string& outer) const;

  // "where: message", or just "message" when there is no location.
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.where_ == b.where_;
  }
  friend bool operator!=(const Status& a, const Status& b) { return !(a == b); }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string where_;
};

inline Status InvalidArgument(std::string msg, std::string where = {}) {
  return Status(StatusCode::kInvalidArgument, std::move(msg), std::move(where));
}
inline Status NotFound(std::string msg, std::string where = {}) {
  return Status(StatusCode::kNotFound, std::move(msg), std::move(where));
}
inline Status AlreadyExists(std::string msg, std::string where = {}) {
  return Status(StatusCode::kAlreadyExists, std::move(msg), std::move(where));
}
inline Status IoError(std::string msg, std::string where = {}) {
  return Status(StatusCode::kIoError, std::move(msg), std::move(where));
}
inline Status Corruption(std::string msg, std::string where = {}) {
  return Status(StatusCode::kCorruption, std::move(msg), std::move(where));
}
inline Status Unavailable(std::string msg, std::string where = {}) {
  return Status(StatusCode::kUnavailable, std::move(msg), std::move(where));
}
inline Status ResourceExhausted(std::string msg, std::string where = {}) {
  return Status(StatusCode::kResourceExhausted, std::move(msg), std::move(where));
}
inline Status FailedPrecondition(std::string msg, std::string where = {}) {
  return Status(StatusCode::kFailedPrecondition, std::move(msg), std::move(where));
}
inline Status PermissionDenied(std::string msg, std::string where = {}) {
  return Status(StatusCode::kPermissionDenied, std::move(msg), std::move(where));
}
inline Status Internal(std::string msg, std::string where = {}) {
  return Status(StatusCode::kInternal, std::move(msg), std::move(where));
}
inline Status OutOfRange(std::string msg, std::string where = {}) {
  return Status(StatusCode::kOutOfRange, std::move(msg), std::move(where));
}

// Either a T or the Status that says why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "StatusOr needs a value or an error");
    if (status_.ok()) status_ = Internal("StatusOr constructed from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace edgebed

// Returns early from the enclosing function with the error, if any.
#define EDGEBED_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::edgebed::Status edgebed_status_ = (expr);  \
    if (!edgebed_status_.ok()) return edgebed_status_; \
  } while (0)
