// ringcast-load: the load generator of ringcast. See tools/load/README.md.
#include "tools/load/conductor.h"
#include "tools/load/options.h"

int main(int argc, char** argv) {
  ringcast::load::Options opt;
  if (int rc = ringcast::load::parse_options(argc, argv, opt); rc != 0) return rc == 1 ? 0 : 2;
  ringcast::load::Conductor conductor(opt);
  return conductor.run();
}
