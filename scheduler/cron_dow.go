package scheduler

import (
	"fmt"
	"strconv"
	"strings"
)

// Day-of-week 7: standard cron takes 7 for Sunday as well as 0; robfig's
// parser only 0 to 6. sundaySeven rewrites the field before robfig reads
// it.

// dayNames are robfig's names of the days of the week.
var dayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// sundaySeven returns the day-of-week field of a cron spec as robfig must
// read it: each comma-separated part whose range ends at 7 ("7", "5-7",
// "fri-7", "1-7/2", and "N/step", which runs from N to the end of the
// week: "5/2" is Friday and Sunday, where robfig stops at 6) becomes the
// list of its days, with 7 written 0. Every
// other part is left as it is, for robfig to read or refuse. A day above 7
// is an error, as is a range that ends at 7 and is not one.
func sundaySeven(field string) (string, error) {
	parts := strings.Split(field, ",")
	for i, p := range parts {
		days, err := sevenPart(p)
		if err != nil {
			return "", err
		}
		if days != "" {
			parts[i] = days
		}
	}
	return strings.Join(parts, ","), nil
}

// sevenPart returns the days of one part of a day-of-week field as a
// list, when the part's range ends at 7; otherwise "".
func sevenPart(part string) (string, error) {
	rng, stepText, stepped := strings.Cut(part, "/")
	lowText, highText, ranged := strings.Cut(rng, "-")
	switch {
	case !ranged && stepped:
		highText = "7" // "N/step" is N to the end of the week, which ends at 7 ("5/2": Friday, Sunday)
	case !ranged:
		highText = lowText // "7"
	}
	high, err := strconv.Atoi(highText)
	switch {
	case err != nil || high < 7:
		return "", nil // not a range ending at 7: robfig's to read
	case high > 7:
		return "", fmt.Errorf("day of week %d above 7 (0 and 7 are Sunday): %s", high, part)
	}
	low, ok := dayNames[strings.ToLower(lowText)]
	if !ok {
		if low, err = strconv.Atoi(lowText); err != nil {
			return "", nil // robfig says what is wrong with it
		}
	}
	step := 1
	if stepped {
		if step, err = strconv.Atoi(stepText); err != nil {
			return "", nil // robfig says what is wrong with it
		}
	}
	switch {
	case step <= 0:
		return "", fmt.Errorf("step of range should be a positive number: %s", part)
	case low < 0 || low > high:
		return "", fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", low, high, part)
	}
	var days []string
	for d := low; d <= high; d += step {
		days = append(days, strconv.Itoa(d%7))
	}
	return strings.Join(days, ","), nil
}
