/* hyve-bench-io: block I/O load for the bench guest (tests/bench).
 *
 * Built static by tests/bench/bench-runner (gcc -static -O2 -pthread) and
 * put into the bench overlay cpio as /bench/hyve-bench-io, run by
 * /bench/init inside the L2 guest:
 *
 *   hyve-bench-io OP DEVICE [-b BS] [-n COUNT] [-t SECONDS] [-j THREADS]
 *                 [-m MIB] [-l LABEL]
 *
 * OP: randread | randwrite | seqread | seqwrite.  O_DIRECT pread/pwrite of
 * BS bytes (default 4096) on DEVICE; random offsets are BS-aligned and
 * uniform over the first MIB MiB of the device (default: all of it);
 * sequential ones walk it from 0 (wrapping).  Each of THREADS threads
 * (default 1: queue depth 1) issues one request at a time; the run stops
 * after COUNT requests in all (default 4096) or SECONDS (default 60),
 * whichever comes first.  Writes fdatasync at the end (inside the time).
 *
 * Prints on stdout one line
 *   HYVE-BENCH: io LABEL op=OP bs=BS qd=THREADS ops=N secs=S iops=X
 *       mbps=Y lat_us_p50=A lat_us_p99=B rc=RC
 * (secs from the guest's CLOCK_MONOTONIC; the host times the run itself
 * as well).  Exit status 0 when every request transferred BS bytes. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_RANDREAD, OP_RANDWRITE, OP_SEQREAD, OP_SEQWRITE };

static const char *const op_names[] = {
  "randread", "randwrite", "seqread", "seqwrite",
};

struct job {
  int fd;
  int op;
  size_t bs;
  uint64_t nblocks;
  long count;
  double deadline;
};

struct worker {
  pthread_t thread;
  struct job *job;
  uint64_t seed;
  long done;
  int failed;
  uint32_t *lat_us;
  long nlat;
};

static pthread_mutex_t next_lock = PTHREAD_MUTEX_INITIALIZER;
static long issued;
static uint64_t seq_next;

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
xorshift (uint64_t *s)
{
  uint64_t x = *s;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

/* Claims the next request: its block number, or -1 when the run is over. */
static int64_t
claim (struct worker *w)
{
  struct job *j = w->job;
  int64_t blk = -1;

  pthread_mutex_lock (&next_lock);
  if (issued < j->count) {
    issued++;
    if (j->op == OP_SEQREAD || j->op == OP_SEQWRITE) {
      blk = (int64_t) (seq_next % j->nblocks);
      seq_next++;
    } else {
      blk = 0;
    }
  }
  pthread_mutex_unlock (&next_lock);
  if (blk >= 0 && (j->op == OP_RANDREAD || j->op == OP_RANDWRITE))
    blk = (int64_t) (xorshift (&w->seed) % j->nblocks);
  return blk;
}

static void *
run_worker (void *opaque)
{
  struct worker *w = opaque;
  struct job *j = w->job;
  int writing = j->op == OP_RANDWRITE || j->op == OP_SEQWRITE;
  void *buf;
  int64_t blk;

  if (posix_memalign (&buf, 4096, j->bs) != 0) {
    w->failed = 1;
    return NULL;
  }
  memset (buf, 0xa5, j->bs);
  while ((blk = claim (w)) >= 0) {
    off_t off = (off_t) blk * (off_t) j->bs;
    double t0 = now (), t1;
    ssize_t n;

    if (writing)
      n = pwrite (j->fd, buf, j->bs, off);
    else
      n = pread (j->fd, buf, j->bs, off);
    t1 = now ();
    if (n != (ssize_t) j->bs) {
      fprintf (stderr, "hyve-bench-io: %s at %lld: %s\n",
               writing ? "pwrite" : "pread", (long long) off,
               n < 0 ? strerror (errno) : "short transfer");
      w->failed = 1;
      break;
    }
    w->lat_us[w->nlat++] = (uint32_t) ((t1 - t0) * 1e6);
    w->done++;
    if (t1 > j->deadline)
      break;
  }
  free (buf);
  return NULL;
}

static int
cmp_u32 (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

  return x < y ? -1 : x > y;
}

static void
usage (void)
{
  fprintf (stderr, "usage: hyve-bench-io randread|randwrite|seqread|seqwrite "
           "DEVICE [-b BS] [-n COUNT] [-t SECONDS] [-j THREADS] [-m MIB] "
           "[-l LABEL]\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  struct job job = { .bs = 4096, .count = 4096 };
  const char *label = "-";
  double secs = 60, t0, t1, el;
  int threads = 1, opt, failed = 0;
  long mib = 0, done = 0, nlat = 0, k;
  uint64_t size = 0;
  struct worker *w;
  uint32_t *lat;

  if (argc < 3)
    usage ();
  for (job.op = 0; job.op < 4; job.op++)
    if (strcmp (argv[1], op_names[job.op]) == 0)
      break;
  if (job.op == 4)
    usage ();
  optind = 3;
  while ((opt = getopt (argc, argv, "b:n:t:j:m:l:")) != -1) {
    switch (opt) {
    case 'b': job.bs = strtoul (optarg, NULL, 0); break;
    case 'n': job.count = strtol (optarg, NULL, 0); break;
    case 't': secs = strtod (optarg, NULL); break;
    case 'j': threads = atoi (optarg); break;
    case 'm': mib = strtol (optarg, NULL, 0); break;
    case 'l': label = optarg; break;
    default: usage ();
    }
  }
  if (job.bs < 512 || job.bs % 512 || job.count < 1 || threads < 1 ||
      threads > 64)
    usage ();
  job.fd = open (argv[2], (job.op == OP_RANDREAD || job.op == OP_SEQREAD ?
                           O_RDONLY : O_RDWR) | O_DIRECT);
  if (job.fd < 0) {
    fprintf (stderr, "hyve-bench-io: %s: %s\n", argv[2], strerror (errno));
    return 1;
  }
  if (ioctl (job.fd, BLKGETSIZE64, &size) != 0) {
    struct stat st;

    if (fstat (job.fd, &st) != 0)
      return 1;
    size = (uint64_t) st.st_size;
  }
  if (mib > 0 && (uint64_t) mib << 20 < size)
    size = (uint64_t) mib << 20;
  job.nblocks = size / job.bs;
  if (job.nblocks == 0) {
    fprintf (stderr, "hyve-bench-io: %s: too small\n", argv[2]);
    return 1;
  }
  w = calloc ((size_t) threads, sizeof *w);
  t0 = now ();
  job.deadline = t0 + secs;
  for (int i = 0; i < threads; i++) {
    w[i].job = &job;
    w[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t) (i + 1);
    w[i].lat_us = malloc ((size_t) job.count * sizeof (uint32_t));
    if (!w[i].lat_us ||
        pthread_create (&w[i].thread, NULL, run_worker, &w[i]) != 0) {
      fprintf (stderr, "hyve-bench-io: cannot start thread %d\n", i);
      return 1;
    }
  }
  for (int i = 0; i < threads; i++) {
    pthread_join (w[i].thread, NULL);
    done += w[i].done;
    failed |= w[i].failed;
  }
  if (job.op == OP_RANDWRITE || job.op == OP_SEQWRITE)
    failed |= fdatasync (job.fd) != 0;
  t1 = now ();
  el = t1 - t0;
  lat = malloc ((size_t) (done ? done : 1) * sizeof *lat);
  for (int i = 0; i < threads; i++)
    for (k = 0; k < w[i].nlat; k++)
      lat[nlat++] = w[i].lat_us[k];
  qsort (lat, (size_t) nlat, sizeof *lat, cmp_u32);
  printf ("HYVE-BENCH: io %s op=%s bs=%zu qd=%d ops=%ld secs=%.4f iops=%.1f "
          "mbps=%.2f lat_us_p50=%u lat_us_p99=%u rc=%d\n", label,
          op_names[job.op], job.bs, threads, done, el,
          el > 0 ? done / el : 0.0,
          el > 0 ? done * (double) job.bs / el / 1e6 : 0.0,
          nlat ? lat[nlat / 2] : 0, nlat ? lat[(nlat * 99) / 100] : 0,
          failed);
  fflush (stdout);
  close (job.fd);
  return failed;
}
