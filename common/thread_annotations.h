// Clang thread-safety annotations (-Wthread-safety): the lock discipline a
// comment would state, checked by the compiler. They expand to nothing for
// other compilers. Use them with the annotated Mutex of common/mutex.h;
// std::mutex carries no annotations.
//
//   Mutex mu_;
//   int count_ GUARDED_BY(mu_);
//   void AddLocked() REQUIRES(mu_);
//   void Add() EXCLUDES(mu_);
#ifndef HUBFS_COMMON_THREAD_ANNOTATIONS_H_
#define HUBFS_COMMON_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define HUBFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define HUBFS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) HUBFS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY HUBFS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) HUBFS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) HUBFS_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) HUBFS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) HUBFS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) HUBFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) HUBFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) HUBFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) HUBFS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) HUBFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) HUBFS_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) HUBFS_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS HUBFS_THREAD_ANNOTATION(no_thread_safety_analysis)

#endif  // HUBFS_COMMON_THREAD_ANNOTATIONS_H_
