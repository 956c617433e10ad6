#include "tests/hubsim/faults.h"

#include <charconv>
#include <cstdlib>

#include "tests/hubsim/util.h"

namespace hubfs::hubsim {
namespace {

bool ParseProb(std::string_view v, double* out) {
  std::string s(v);
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !(d >= 0 && d <= 1)) return false;
  *out = d;
  return true;
}

bool ParseInt(std::string_view v, int64_t* out) {
  auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size() && *out >= 0;
}

// Deterministic [0, 1) from a string (first 8 bytes of its SHA-1).
double Unit(const std::string& s) {
  std::string h = Sha1Hex(s).substr(0, 13);
  return static_cast<double>(std::strtoull(h.c_str(), nullptr, 16)) /
         static_cast<double>(1ull << 52);
}

}  // namespace

Result<FaultSpec> ParseFaultSpec(std::string_view spec) {
  FaultSpec f;
  f.text = std::string(spec);
  for (std::string_view item : Split(spec, ',')) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return InvalidArgumentError("fault item without '=': " + std::string(item));
    std::string_view k = item.substr(0, eq), v = item.substr(eq + 1);
    bool ok = true;
    if (k == "error")
      ok = ParseProb(v, &f.error);
    else if (k == "reset")
      ok = ParseProb(v, &f.reset);
    else if (k == "truncate")
      ok = ParseProb(v, &f.truncate);
    else if (k == "expire")
      ok = ParseProb(v, &f.expire);
    else if (k == "seed") {
      int64_t s;
      ok = ParseInt(v, &s);
      f.seed = static_cast<uint64_t>(s);
    } else if (k == "token_ttl")
      ok = ParseInt(v, &f.token_ttl);
    else if (k == "latency") {
      int64_t n;
      std::string_view num = v;
      int64_t mult = 1000;  // default unit: ms
      if (num.size() > 2 && num.substr(num.size() - 2) == "us")
        num.remove_suffix(2), mult = 1;
      else if (num.size() > 2 && num.substr(num.size() - 2) == "ms")
        num.remove_suffix(2);
      else if (num.size() > 1 && num.back() == 's')
        num.remove_suffix(1), mult = 1000000;
      ok = ParseInt(num, &n) && n <= 60'000'000 / mult;
      f.latency_us = n * mult;
    } else if (k == "rate" || k == "uprate") {
      // N, NK or NM bytes per second (K = 1000).
      std::string_view num = v;
      int64_t mult = 1;
      if (!num.empty() && (num.back() == 'K' || num.back() == 'k')) num.remove_suffix(1), mult = 1000;
      else if (!num.empty() && (num.back() == 'M' || num.back() == 'm'))
        num.remove_suffix(1), mult = 1000000;
      int64_t n = 0;
      ok = ParseInt(num, &n) && n > 0 && n <= int64_t{1} << 40;
      (k == "rate" ? f.rate : f.uprate) = static_cast<uint64_t>(n * mult);
    } else if (k == "only") {
      for (std::string_view o : Split(v, '+')) {
        if (o != "hub" && o != "cas" && o != "data") ok = false;
        f.only.insert(std::string(o));
      }
    } else {
      return InvalidArgumentError("unknown fault kind: " + std::string(k));
    }
    if (!ok) return InvalidArgumentError("bad fault value: " + std::string(item));
  }
  if (f.error + f.reset + f.truncate + f.expire > 1)
    return InvalidArgumentError("fault probabilities add up to more than 1");
  return f;
}

void Faults::Set(FaultSpec spec) {
  std::lock_guard<std::mutex> l(mu_);
  spec_ = std::move(spec);
  attempts_.clear();
}

namespace {
// `bytes` at `rate` bytes per second (0: unbounded) when `origin` is among
// the spec's origins.
std::chrono::microseconds PacedTime(const FaultSpec& spec, uint64_t rate, const char* origin,
                                    uint64_t bytes) {
  if (rate == 0 || (!spec.only.empty() && !spec.only.count(origin))) {
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(
      static_cast<int64_t>(static_cast<double>(bytes) * 1e6 / static_cast<double>(rate)));
}
}  // namespace

std::chrono::microseconds Faults::DataTime(uint64_t bytes) const {
  std::lock_guard<std::mutex> l(mu_);
  return PacedTime(spec_, spec_.rate, "data", bytes);
}

std::chrono::microseconds Faults::UploadTime(uint64_t bytes) const {
  std::lock_guard<std::mutex> l(mu_);
  return PacedTime(spec_, spec_.uprate, "cas", bytes);
}

FaultSpec Faults::Get() const {
  std::lock_guard<std::mutex> l(mu_);
  return spec_;
}

FaultDecision Faults::Decide(std::string_view origin, std::string_view route, std::string_view path,
                             std::string_view range) {
  std::lock_guard<std::mutex> l(mu_);
  FaultDecision d;
  if (!spec_.only.empty() && !spec_.only.count(std::string(origin))) return d;
  d.latency_us = spec_.latency_us;
  double total = spec_.error + spec_.reset + spec_.truncate + spec_.expire;
  if (total <= 0) return d;
  std::string key = std::string(origin) + '\n' + std::string(route) + '\n' + std::string(path) +
                    '\n' + std::string(range);
  if (attempts_.size() > 1'000'000) attempts_.clear();
  uint32_t attempt = attempts_[key]++;
  double u = Unit(std::to_string(spec_.seed) + '\n' + key + '\n' + std::to_string(attempt));
  double acc = spec_.error;
  if (u < acc) {
    double w = u / spec_.error;  // which error, from the same draw
    d.kind = w < 0.4 ? FaultKind::kError500 : w < 0.7 ? FaultKind::kError503 : FaultKind::kError429;
    return d;
  }
  if (u < (acc += spec_.reset)) return d.kind = FaultKind::kReset, d;
  if (u < (acc += spec_.truncate)) return d.kind = FaultKind::kTruncate, d;
  if (u < (acc += spec_.expire)) return d.kind = FaultKind::kExpire, d;
  return d;
}

std::string_view FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kError500:
      return "500";
    case FaultKind::kError503:
      return "503";
    case FaultKind::kError429:
      return "429";
    case FaultKind::kReset:
      return "reset";
    case FaultKind::kTruncate:
      return "truncate";
    case FaultKind::kExpire:
      return "expire";
  }
  return "none";
}

}  // namespace hubfs::hubsim
