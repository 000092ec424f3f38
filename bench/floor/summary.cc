#include "bench/floor/summary.h"

#include <algorithm>
#include <cmath>

namespace ringcast::floorbench {

namespace {

double quantile(const std::vector<double>& sorted, double q) {
  const double position = q * double(sorted.size() - 1);
  const std::size_t below = std::size_t(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - double(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

}  // namespace

Spread spread_of(std::vector<double> samples) {
  Spread spread;
  if (samples.empty()) return spread;
  std::sort(samples.begin(), samples.end());
  spread.min = samples.front();
  spread.p25 = quantile(samples, 0.25);
  spread.median = quantile(samples, 0.5);
  spread.p75 = quantile(samples, 0.75);
  spread.max = samples.back();
  return spread;
}

}  // namespace ringcast::floorbench
