// Early-return helpers for absl::Status / absl::StatusOr, in the style of LevelDB and Abseil.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SQZ_CONCAT_INNER_(a, b) a##b
#define SQZ_CONCAT_(a, b) SQZ_CONCAT_INNER_(a, b)

// Returns from the current function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status sqz_status_ = (expr);       \
    if (!sqz_status_.ok()) return sqz_status_; \
  } while (0)

// `lhs = value of rexpr` (an absl::StatusOr<T>), or returns its error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(SQZ_CONCAT_(sqz_statusor_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                           \
  if (!tmp.ok()) return tmp.status();           \
  lhs = std::move(tmp).value()
