#include "common/deadline.h"

#include <algorithm>

namespace hubfs {
namespace {

thread_local std::optional<Clock::TimePoint> current_deadline;

}  // namespace

ScopedDeadline::ScopedDeadline(std::optional<Clock::TimePoint> deadline)
    : saved_(current_deadline) {
  if (!deadline) return;
  current_deadline = current_deadline ? std::min(*current_deadline, *deadline) : *deadline;
}

ScopedDeadline::~ScopedDeadline() { current_deadline = saved_; }

std::optional<Clock::TimePoint> ScopedDeadline::Current() { return current_deadline; }

}  // namespace hubfs
