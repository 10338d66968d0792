// Calibration sets and input statistics (see calibration.h).
#include "calibration/calibration.h"

namespace squeeze {}  // namespace squeeze
