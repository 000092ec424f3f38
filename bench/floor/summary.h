#pragma once
// Median and spread of a handful of rounds. Rounds on a shared 2-core box drift, so the report
// gives every quartile, never a mean alone.
#include <cstdint>
#include <vector>

namespace ringcast::floorbench {

struct Spread {
  double min = 0, p25 = 0, median = 0, p75 = 0, max = 0;
};

// Quantiles by linear interpolation between sorted samples (R's type 7); an empty input
// gives all zeros.
Spread spread_of(std::vector<double> samples);

}  // namespace ringcast::floorbench
