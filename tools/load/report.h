#pragma once
// The final report: merges every worker's counts, writes the JSON (--json), prints a summary
// to stderr, and decides the exit status: 0 when the run completed with nothing lost,
// duplicated or reordered (and every id in order), 1 otherwise.
#include <memory>
#include <vector>

#include "tools/load/conductor.h"

namespace ringcast::load {

struct ReportInput {
  const Options& opt;
  const Plan& plan;
  const KernelFeatures& kernel;
  const Shared& shared;
  const std::vector<std::unique_ptr<Worker>>& workers;
  const Timeline& timeline;
  const Outcome& outcome;
};

int finish_report(const ReportInput& in);

}  // namespace ringcast::load
