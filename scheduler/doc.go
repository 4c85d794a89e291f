// Package scheduler is the agent's clock: it decides when a job runs and
// which snapshots a retention policy keeps, as pure functions of their
// inputs. Nothing here reads the clock, the file system or a repository;
// the caller passes the time, the snapshots and the user's time zone, and
// acts on the answer.
//
// The package is a leaf: it imports the standard library and
// github.com/robfig/cron/v3 only, and knows snapshots as plain values
// ([Snapshot]), not as repository manifests.
//
// # Schedules and runs
//
// [ParseSchedule] reads a job's schedule in robfig/cron's standard syntax
// ("30 2 * * *", "@daily", "@every 6h", "CRON_TZ=Europe/Berlin 30 2 * * *")
// as wall clock times in the user's zone; [Schedule.Next] gives its slots,
// each wall clock time once, also on the nights the clocks change.
// [Jitter] derives a fixed delay from a host and job name so that hosts spread
// their runs. [Missed] finds the slot to catch up once after the machine
// was off, [Backoff.RetryAt] spaces the retries of a failed run up to the
// next slot, and [Job] puts these rules together as a state machine fed
// with events and their times (start-up, clock tick, run ended) that
// answers what to run when, skipping a slot while a run is going. The
// caller owns the timers and the goroutines; it persists a [History] per
// job between starts.
//
// # Retention
//
// [Apply] takes one group of snapshots and a [Policy] and returns one
// [Decision] per snapshot, newest first. The rules are those of restic's
// forget, and a snapshot kept by several rules lists every reason:
//
//   - keep-last n keeps the n newest snapshots.
//   - keep-hourly, keep-daily, keep-weekly, keep-monthly and keep-yearly n
//     each walk the snapshots from newest to oldest and keep the newest
//     snapshot of each period (hour, day, ISO week, month, year) until n
//     periods have been kept. Periods without snapshots do not count, so a
//     history with holes reaches further back.
//   - keep-within d keeps every snapshot taken at most d before the newest
//     snapshot of the group (not before now: a source that stopped getting
//     snapshots keeps them).
//   - keep-tag keeps every snapshot that carries any of the listed tags.
//
// A count of -1 ([Unlimited]) keeps every period; 0 turns the rule off.
// A policy that sets no rule at all ([Policy.Empty]) keeps nothing, and
// callers refuse to forget with one.
//
// Unlike recent restic releases, Apply does not additionally keep the
// oldest snapshot of a group when it has fewer periods than a count asks
// for: the counts are the whole rule.
//
// # Periods and time zones
//
// Periods are calendar periods in the [time.Location] the caller passes
// (the user's zone), not multiples of 24 hours in UTC: a day is a local
// date, whether it lasts 23, 24 or 25 hours, and a snapshot at 23:30 local
// time belongs to that date wherever UTC is. Weeks are ISO 8601 weeks
// (Monday to Sunday, numbered within the ISO year), so 2020-12-31 and
// 2021-01-03 both fall in 2020-W53. An hour is a local date and a local
// clock hour: on the night the clocks go back, the repeated hour is one
// period, so the two absolute hours that read 02:xx in Europe/Berlin on
// 2024-10-27 share a single hourly bucket and keep-hourly keeps one
// snapshot for both. The hour skipped when the clocks go forward is simply
// a period without snapshots.
//
// # Groups
//
// [Groups] splits snapshots by host, paths and tags ([GroupBy], parsed from
// restic-style "host,paths" by [ParseGroupBy]) so that the policy applies to
// each group on its own.
package scheduler
