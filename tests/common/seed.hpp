#pragma once
// Random inputs: fresh every run, reproducible on demand. The run's seed comes from
// std::random_device, or from the environment variable BS_TEST_SEED when set; every failed
// assertion is followed by a line naming it. Each test draws from its own generator, seeded from the
// run's seed and the test's full name, so one test can be rerun alone with the same data.
#include <cstdint>
#include <random>
#include <string>

namespace bs_test {

uint64_t run_seed();

// "BS_TEST_SEED=<seed>": the text to paste into the environment to reproduce a failure.
std::string seed_text();

// Generator for the current test (seeded from run_seed() and the running test's name plus `salt`).
std::mt19937_64 test_rng(uint64_t salt = 0);

}  // namespace bs_test
