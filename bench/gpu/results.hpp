#pragma once
// Result rows and their two renderings: a CSV written row by row (a run cut short keeps what it
// measured) and a Markdown table. bench/gpu/torch_peers.py appends rows of the same schema and
// bench/gpu/report.py merges both.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bsbench {

struct Row {
  std::string gpu, prec, op, library;
  int64_t N = 0, C = 0, K = 0;
  int b = 0;               // 0 for dense rows
  double density = 1.0;    // nominal density of the layout (1 for dense rows)
  int64_t nnz_blocks = 0;  // 0 for dense rows
  std::string layout, layout_file;
  uint64_t seed = 0;
  int feature_axis = 1;
  std::string status;      // ok | check_failed | unsupported | error
  double median_ms = -1, min_ms = -1, max_ms = -1;
  int runs = 0;
  double eff_tflops = -1;  // 2·N·nnz·b² / time (dense rows: 2·N·C·K / time)
  double dense_ms = -1, speedup = -1;
  double rel_err = -1, tol = -1;
  double setup_s = -1;
  std::string note;
};

// The CSV header line, without newline (the schema every producer writes).
const char* csv_header();

class CsvWriter {
 public:
  // Creates (or, with append, extends) the file; writes the header when the file is new or empty.
  CsvWriter(const std::string& path, bool append);
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;
  void write(const Row& row);  // flushed at once

 private:
  FILE* f_ = nullptr;
};

// Markdown: a title naming the GPU, the header lines given (versions, method), and one table row
// per result.
void write_markdown(const std::string& path, const std::string& gpu, const std::vector<std::string>& header,
                    const std::vector<Row>& rows);

}  // namespace bsbench
