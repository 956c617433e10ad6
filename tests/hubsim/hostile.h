// A hostile Hub: answers that lie, for tests of how clients refuse them.
// `--hostile KIND[,KIND...]` at start, or `POST /admin/hostile` with the same
// spec as body (empty = honest again), `GET /admin/hostile`. Kinds:
//   name-dotdot, name-dot, name-slash, name-nul, name-long
//                    every tree / paths-info answer gains an entry in the
//                    listed directory named "..", ".", "x/y" (deeper than
//                    the listing), "a\0b" or 300 × 'n'
//   big-dir          a listing of a directory named "big" is one page of
//                    10^6 entries (streamed, ~100 MB)
//   big-dir-paged    the same 10^6 entries in pages of 1000 (with Link)
//   size             file sizes in tree / paths-info answers are 1000 bytes
//                    larger than the file
//   range            206 answers of the data origin and of resolve carry a
//                    Content-Range one byte off
//   xorb-missing     the data origin answers 404 for every xorb
//   xorb-mismatch    the data origin flips one byte of every xorb range
//   bomb             xorb ranges start with a compressed chunk record that
//                    expands far past its declared length
//   redirect         tree listings redirect (302) to the data origin and xorb
//                    ranges redirect to the Hub origin (paths under /hostile/)
//   slow             tree listings and xorb ranges send one byte a second
//   other-branch     a commit answer names the head of another branch
//   sha256           the LFS oid (SHA-256) of every file in tree / paths-info
//                    answers has its first hex digit changed
// Applied after the honest handler ran, so everything else is as usual.
#ifndef HUBFS_TESTS_HUBSIM_HOSTILE_H_
#define HUBFS_TESTS_HUBSIM_HOSTILE_H_

#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace hubfs::hubsim {

struct Services;

// Errors: kInvalidArgument for an unknown kind.
Result<std::set<std::string>> ParseHostileSpec(std::string_view spec);

// Thread-safe.
class Hostile {
 public:
  void Set(std::set<std::string> kinds);
  std::set<std::string> Get() const;
  bool Any() const;
  bool Has(const std::string& kind) const;

 private:
  mutable std::mutex mu_;
  std::set<std::string> kinds_;  // GUARDED_BY(mu_)
};

// Rewrites the honest answer `res` to `req` on `origin` ("hub", "cas",
// "data") for route class `route` as the active kinds say.
void ApplyHostile(Services& s, const std::string& origin, const std::string& route,
                  const httplib::Request& req, httplib::Response& res);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_HOSTILE_H_
