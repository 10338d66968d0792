// The coordinator's schema as numbered migrations, applied in order at start-up. The
// database's `PRAGMA user_version` is the number of migrations applied; a migration is never
// edited once released: a change is a new migration.
#pragma once

#include "absl/status/status.h"
#include "service/store/db.h"

namespace squeeze::store {

// Number of migrations this build knows.
int LatestSchemaVersion();

// Applies migrations user_version+1 .. target (target <= 0: all) in one transaction each.
// Fails, changing nothing, on a database newer than this build.
absl::Status Migrate(Db& db, int target = 0);

// The database's schema version (user_version).
absl::StatusOr<int> SchemaVersion(Db& db);

}  // namespace squeeze::store
