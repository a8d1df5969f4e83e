#include "telemetry/process.h"

#include <unistd.h>

#include <fstream>

namespace otelite {

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * size_t(sysconf(_SC_PAGESIZE));
}

}  // namespace otelite
