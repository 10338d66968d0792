// How errors are classed across squeeze: input errors (a bad file, parameter, request or
// token: fixing the input fixes them, and retrying does not) against everything else
// (runtime, server or transient errors).
#pragma once

#include "absl/status/status.h"

namespace squeeze {

// True for InvalidArgument, NotFound, OutOfRange, DataLoss, FailedPrecondition,
// Unimplemented, PermissionDenied and Unauthenticated. The CLI exits 2 for them; a worker
// fails such a job without retries.
inline bool IsInputError(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

}  // namespace squeeze
