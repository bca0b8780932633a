package bench

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/stat's times (USER_HZ), 100 per second on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// machineCPU returns the busy CPU time of the whole machine since boot (every core), read
// from /proc/stat; ok is false where there is none. The difference over a phase, divided by
// its events, is the CPU an event cost the server, PostgreSQL and this client together when
// they share the machine: steadier from run to run than events/s on a noisy machine.
func machineCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	d, err := parseCPULine(string(line))
	return d, err == nil
}

// machineCores counts the per-core lines ("cpu0", "cpu1", …) of /proc/stat, whose first line
// machineCPU sums; 0 where there is none.
func machineCores() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	return countCores(string(b))
}

func countCores(stat string) int {
	n := 0
	for line := range strings.Lines(stat) {
		if rest, ok := strings.CutPrefix(line, "cpu"); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			n++
		}
	}
	return n
}

// parseCPULine reads the busy time of /proc/stat's "cpu" line: user, nice, system, irq,
// softirq and steal (not idle nor iowait; guest time is already within user).
func parseCPULine(line string) (time.Duration, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("not a /proc/stat cpu line")
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system [idle iowait] irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}

// cpuMeter measures the machine's busy CPU time over an interval.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	d, ok := machineCPU()
	return cpuMeter{start: d, ok: ok}
}

// elapsed is the busy time since startCPU (0 when unknown).
func (m cpuMeter) elapsed() time.Duration {
	if !m.ok {
		return 0
	}
	d, ok := machineCPU()
	if !ok || d < m.start {
		return 0
	}
	return d - m.start
}

// perEvent divides cpu over n (0 when either is unknown).
func perEvent(cpu time.Duration, n int64) time.Duration {
	if cpu <= 0 || n <= 0 {
		return 0
	}
	return cpu / time.Duration(n)
}
