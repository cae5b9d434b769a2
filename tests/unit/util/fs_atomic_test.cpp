// Atomic replacement of outputs (issue 12): a writer killed with SIGKILL at random points
// leaves the old complete output or the new complete one (never neither, never a mix), and
// the next run sweeps the litter of dead processes. Completeness is checked with the
// generation number every file of one write carries.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include "support/assets.h"
#include "util/error.h"
#include "util/fs.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

constexpr int kFiles = 3;
constexpr size_t kPad = 16 << 10;

// One complete output of generation `gen`: kFiles files, each "gen <gen>" plus padding so
// the writes take long enough to be interrupted inside.
void write_generation(const std::string& dir, int gen, bool overwrite) {
  write_dir_atomic(dir, overwrite, [gen](const std::string& tmp) {
    for (int f = 0; f < kFiles; ++f)
      write_file_atomic(tmp + "/f" + std::to_string(f),
                        "gen " + std::to_string(gen) + "\n" + std::string(kPad, 'x'));
  });
}

// The generation `dir` holds, or -1 when it is missing, incomplete or mixed.
int complete_generation(const std::string& dir) {
  std::set<std::string> heads;
  int n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string text = read_file(it->path().string());
    if (text.size() != text.find('\n') + 1 + kPad) return -1;
    heads.insert(text.substr(0, text.find('\n')));
    ++n;
  }
  if (ec || n != kFiles || heads.size() != 1) return -1;
  return std::stoi(heads.begin()->substr(4));
}

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A pid that is certainly dead: a child that has exited and been reaped.
pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

struct KillStats {
  int changed = 0;      // rounds after which a newer generation was in place
  int interrupted = 0;  // rounds whose kill left litter (the writer died mid-write)
};

// 50 writers, each killed with SIGKILL after a random delay while it replaces `out` again and
// again. `check` runs after each kill; `sweep_first` runs the litter sweep of the next run
// before checking (what the two-rename fallback relies on). `pause_us` widens the instant of
// replacement (fs.cpp test hook) so that kills land inside it.
KillStats kill_writers(const std::string& root, bool no_exchange, bool sweep_first) {
  const std::string out = root + "/model";
  write_generation(out, 0, false);
  std::mt19937 rng(12);  // fixed seed: the same 50 kill points every run
  // A generation takes ~10-50 ms here (each file and folder is fsynced: ~3.5 ms per fsync on
  // this machine's ext4), so kills land before, inside and after replacements.
  std::uniform_int_distribution<int> delay_us(0, 100000);
  KillStats stats;
  int last_gen = 0;
  for (int round = 0; round < 50; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    pid_t pid = fork();
    if (pid == 0) {  // the writer: replaces the output with new generations until killed
      setenv("LLMPRUNE_TEST_FS_PAUSE_US", "10000", 1);
      if (no_exchange) setenv("LLMPRUNE_TEST_FS_NO_EXCHANGE", "1", 1);
      try {
        for (int gen = 1000 * (round + 1);; ++gen) write_generation(out, gen, true);
      } catch (...) {
      }
      _exit(3);  // never return into googletest in the child
    }
    EXPECT_GT(pid, 0);
    usleep(static_cast<useconds_t>(delay_us(rng)));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    stats.interrupted += listing(root).size() > 1;
    if (sweep_first) {
      remove_stale_litter(out, ".old-");
      remove_stale_litter(out, ".partial-");
    }
    int gen = complete_generation(out);
    EXPECT_GE(gen, 0) << "output missing or incomplete after kill -9";
    EXPECT_TRUE(gen == last_gen || gen >= 1000 * (round + 1)) << gen;  // old or a new one
    stats.changed += gen != last_gen;
    if (gen >= 0) last_gen = gen;
  }
  // The next run sweeps what the killed writers left (.partial-PID, .old-PID).
  write_generation(out, 1, true);
  EXPECT_EQ(complete_generation(out), 1);
  EXPECT_EQ(listing(root), std::vector<std::string>{"model"});
  return stats;
}

TEST(FsAtomic, KillNineAtRandomPointsLeavesOldOrNewComplete) {
  // renameat2(RENAME_EXCHANGE): right after any kill, old or new is complete. (With the
  // fallback forced here instead, kills inside the paused gap find no output: this test
  // then fails, as the two-rename --overwrite of issue 12 did.)
  KillStats s = kill_writers(test::temp_dir("kill9"), /*no_exchange=*/false, /*sweep_first=*/false);
  EXPECT_GT(s.changed, 0) << "no writer ever finished: the kill points test nothing";
  EXPECT_GT(s.interrupted, 0) << "no kill landed mid-write: the kill points test nothing";
}

TEST(FsAtomic, KillNineWithoutExchangeIsRepairedByTheNextRun) {
  // Filesystems without RENAME_EXCHANGE: a kill between the two renames leaves the old output
  // at .old-PID; the next run's sweep puts it back before anything else.
  KillStats s = kill_writers(test::temp_dir("kill9b"), /*no_exchange=*/true, /*sweep_first=*/true);
  EXPECT_GT(s.changed, 0);
  EXPECT_GT(s.interrupted, 0);
}

TEST(FsAtomic, StaleLitterOfDeadProcessesIsRemoved) {
  const std::string root = test::temp_dir("litter");
  const std::string out = root + "/model";
  const std::string dead = std::to_string(dead_pid()), alive = std::to_string(getppid());
  fs::create_directories(out + ".partial-" + dead + "/sub");
  fs::create_directories(out + ".partial-" + alive);        // a live writer's: kept
  fs::create_directories(root + "/other.partial-" + dead);  // another output's: kept
  write_file_atomic(root + "/r.json.partial-" + dead, "half");
  write_generation(out, 1, false);
  write_file_atomic(root + "/r.json", "{}");
  EXPECT_EQ(listing(root), (std::vector<std::string>{"model", "model.partial-" + alive,
                                                     "other.partial-" + dead, "r.json"}));
  // make-test-model's fixture folders use the same sweep.
  fs::create_directories(out + ".tokenizer-" + dead);
  remove_stale_litter(out, ".tokenizer-");
  EXPECT_FALSE(fs::exists(out + ".tokenizer-" + dead));
}

TEST(FsAtomic, OldOutputOfACrashBetweenRenamesIsRestored) {
  // The fallback without RENAME_EXCHANGE moves the old output to .old-PID first; a crash
  // right then leaves no output. The next run puts the old one back before anything else.
  const std::string root = test::temp_dir("restore");
  const std::string out = root + "/model";
  write_generation(out, 7, false);
  const std::string old = out + ".old-" + std::to_string(dead_pid());
  fs::rename(out, old);
  EXPECT_THROW(write_generation(out, 8, false), Error);  // restored, so it exists now
  EXPECT_EQ(complete_generation(out), 7);
  EXPECT_EQ(listing(root), std::vector<std::string>{"model"});
}

TEST(FsAtomic, WriteErrorsNameTheRealFileAndAreEnvironmentErrors) {
  // Was "cannot write <path>.partial-<pid>" with exit 2 (blaming the input).
  const std::string path = "/nonexistent-dir-llmprune/report.json";
  try {
    write_file_atomic(path, "{}");
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("cannot write " + path + ": ", 0), 0u) << msg;
    EXPECT_EQ(msg.find(".partial"), std::string::npos) << msg;
    EXPECT_EQ(e.exit_code(), 1);
  }
}

TEST(FsAtomic, DiskFullNamesTheFile) {
  // /dev/full fails every write with ENOSPC, as a full disk does.
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  try {
    write_file_atomic("/dev/full", std::string(1 << 16, 'x'));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write /dev/full: " + std::string(std::strerror(ENOSPC)));
    EXPECT_EQ(e.exit_code(), 1);
  }
}

}  // namespace
}  // namespace llmprune

namespace llmprune {
// "out/" is the folder "out": written, then replaced with --overwrite, with nothing left
// beside it (it once made "out/.partial-PID" inside a folder it then tried to move aside).
TEST(FsAtomic, TrailingSlashNamesTheSameFolder) {
  const std::string root = test::temp_dir("atomic_slash");
  write_generation(root + "/out/", 1, false);
  EXPECT_EQ(complete_generation(root + "/out"), 1);
  write_generation(root + "/out//", 2, true);
  EXPECT_EQ(complete_generation(root + "/out"), 2);
  EXPECT_EQ(listing(root), std::vector<std::string>{"out"});
}
}  // namespace llmprune
