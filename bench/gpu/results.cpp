#include "results.hpp"

#include <cmath>
#include <stdexcept>

namespace bsbench {

namespace {

// Numbers with a fixed number of significant digits; negative values mean "not measured" and
// print as an empty field.
std::string num(double v, int digits = 4) {
  if (v < 0 || !std::isfinite(v)) return std::isinf(v) ? "inf" : "";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
  return buf;
}

std::string quoted(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c == '\n' ? ' ' : c;
  }
  return q + "\"";
}

}  // namespace

const char* csv_header() {
  return "gpu,prec,op,library,N,C,K,b,density,nnz_blocks,layout,layout_file,seed,feature_axis,status,"
         "median_ms,min_ms,max_ms,runs,eff_tflops,dense_ms,speedup_vs_dense,rel_err,tol,setup_s,note";
}

CsvWriter::CsvWriter(const std::string& path, bool append) {
  f_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!f_) throw std::runtime_error("cannot write " + path);
  std::fseek(f_, 0, SEEK_END);  // where an append-mode stream starts is implementation-defined
  if (std::ftell(f_) == 0) std::fprintf(f_, "%s\n", csv_header());
}

CsvWriter::~CsvWriter() {
  if (f_) std::fclose(f_);
}

void CsvWriter::write(const Row& r) {
  const std::string line =
      quoted(r.gpu) + "," + r.prec + "," + r.op + "," + r.library + "," + std::to_string(r.N) + "," +
      std::to_string(r.C) + "," + std::to_string(r.K) + "," + (r.b ? std::to_string(r.b) : "") + "," +
      num(r.density) + "," + (r.nnz_blocks ? std::to_string(r.nnz_blocks) : "") + "," + r.layout + "," +
      quoted(r.layout_file) + "," + (r.b ? std::to_string(r.seed) : "") + "," + std::to_string(r.feature_axis) + "," +
      r.status + "," + num(r.median_ms, 6) + "," + num(r.min_ms, 6) + "," + num(r.max_ms, 6) + "," +
      (r.runs ? std::to_string(r.runs) : "") + "," + num(r.eff_tflops) + "," + num(r.dense_ms, 6) + "," +
      num(r.speedup, 4) + "," + num(r.rel_err, 3) + "," + num(r.tol, 2) + "," + num(r.setup_s, 4) + "," +
      quoted(r.note);
  std::fprintf(f_, "%s\n", line.c_str());
  std::fflush(f_);
}

void write_markdown(const std::string& path, const std::string& gpu, const std::vector<std::string>& header,
                    const std::vector<Row>& rows) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fprintf(f, "# bsmm GPU benchmark: %s\n\n", gpu.c_str());
  for (const auto& h : header) std::fprintf(f, "- %s\n", h.c_str());
  std::fprintf(f, "\n| prec | op | N | C | K | b | d | library | median ms | eff TFLOP/s | x dense | rel err | status |\n");
  std::fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    std::string status = r.status;
    if (r.status != "ok" && !r.note.empty()) status += ": " + r.note;
    for (auto& c : status)
      if (c == '|' || c == '\n') c = ' ';
    std::fprintf(f, "| %s | %s | %lld | %lld | %lld | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.prec.c_str(),
                 r.op.c_str(), static_cast<long long>(r.N), static_cast<long long>(r.C),
                 static_cast<long long>(r.K), r.b ? std::to_string(r.b).c_str() : "-",
                 r.b ? num(r.density, 3).c_str() : "dense", r.library.c_str(), num(r.median_ms, 4).c_str(),
                 num(r.eff_tflops, 4).c_str(), num(r.speedup, 3).c_str(), num(r.rel_err, 2).c_str(), status.c_str());
  }
  if (std::fclose(f) != 0) throw std::runtime_error("short write to " + path);
}

}  // namespace bsbench
