#pragma once
// One bsmm op on fresh random inputs, in two steps so that determinism and concurrency tests can
// repeat the second: the inputs are drawn once (OpRun), then execute() runs the op on a plan into
// freshly allocated, poisoned and guarded buffers, and check() compares what it returned with the
// float64 reference. execute() itself asserts success, intact guard zones and unchanged inputs.
#include <blocksparse/bsmm.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/host_tensor.hpp"
#include "common/layouts.hpp"
#include "common/plan.hpp"

namespace bs_test {

enum class Gates {
  kNone,       // gate = NULL
  kRandom,     // every gate in [0.5, 1.5)
  kWithZeros,  // about a third exactly 0, and those blocks' weights NaN (a zero gate skips the block)
};

// Everything about one call except the plan's setup and layout.
struct OpCase {
  bsmm_op_t op = BSMM_OP_FPROP;
  int64_t N = 37;                // fprop, bprop, updat
  int32_t n_pairs = 1;           // updat
  float alpha = 1.0f;            // fprop, bprop, updat
  float beta = 0.0f;             // fprop, bprop, updat; 0 = outputs start as NaN poison
  Gates gates = Gates::kNone;    // fprop, bprop, updat
  bool gain = false;             // l2 ops
  bool clamp_some = false;       // l2 ops: epsilon above the squared norm of about half the features
  bool in_place = false;         // l2 ops: output buffer = first input buffer
  float scale = 1.0f;            // identity init
  std::string str() const;
};

const char* op_name(bsmm_op_t op);

// The outputs of one execution (updat/fprop/...: one tensor; l2 gradient with gain: dw and dgain).
using Outputs = std::vector<HostTensor>;

class OpRun {
 public:
  OpRun(const PlanSetup& setup, const Layout& layout, const OpCase& c, std::mt19937_64& rng);
  // Runs the op on `plan` (made from this run's setup and layout). Records test failures for a
  // failing status, overwritten guards or changed inputs; returns the outputs downloaded.
  Outputs execute(const_bsmm_plan_t plan) const;
  // Records test failures where `out` differs from the reference.
  void check(const Outputs& out) const;
  std::string str() const;  // setup, layout and case, for failure messages

 private:
  bs_status_t call(const_bsmm_plan_t plan, const std::vector<TestBuffer>& in, std::vector<TestBuffer>& out,
                   TestBuffer& ws) const;
  void check_empty_blocks(const HostTensor& out) const;

  PlanSetup setup_;
  Layout layout_;
  OpCase case_;
  std::vector<HostTensor> inputs_;   // op-specific order, see the constructor
  std::vector<HostTensor> outputs_;  // initial contents of the outputs (poison or beta's operand)
  float epsilon_ = 0.0f;
};

// Draws inputs, makes a plan, executes and checks: the one-call form of the numerics suites.
void check_op(const PlanSetup& setup, const Layout& layout, const OpCase& c, std::mt19937_64& rng);

}  // namespace bs_test
