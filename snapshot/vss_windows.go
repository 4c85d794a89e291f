//go:build windows

package snapshot

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// This file makes volume shadow copies through WMI's Win32_ShadowCopy
// class, driven by PowerShell, which every supported Windows has: the
// class creates a client-accessible copy of a volume and names its device,
// and deleting the instance releases it.

// withShadowCopy runs fn on the path of root inside a new shadow copy of
// root's volume, and deletes the copy afterwards, also when fn fails.
func withShadowCopy(root string, fn func(shadowRoot string) error) error {
	abs, err := filepath.Abs(PlainPath(root))
	if err != nil {
		return err
	}
	vol := filepath.VolumeName(abs)
	if len(vol) != 2 || vol[1] != ':' {
		return fmt.Errorf("shadow copy of %s: only drive-letter volumes are supported", root)
	}
	id, device, err := createShadow(vol + `\`)
	if err != nil {
		return fmt.Errorf("creating a shadow copy of %s: %w", vol, err)
	}
	defer deleteShadow(id)
	return fn(device + strings.TrimPrefix(abs, vol))
}

// powershell runs a PowerShell script and returns its output lines.
func powershell(script string) ([]string, error) {
	cmd := exec.Command("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.Fields(out.String()), nil
}

// createShadow makes a shadow copy of volume ("C:\") and returns its id and
// device path (\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN).
func createShadow(volume string) (id, device string, err error) {
	lines, err := powershell(`$r = (Get-WmiObject -List Win32_ShadowCopy).Create('` + volume + `', 'ClientAccessible'); ` +
		`if ($r.ReturnValue -ne 0) { [Console]::Error.WriteLine("Win32_ShadowCopy.Create returned " + $r.ReturnValue); exit 1 }; ` +
		`$s = Get-WmiObject Win32_ShadowCopy | Where-Object { $_.ID -eq $r.ShadowID }; $s.ID; $s.DeviceObject`)
	if err != nil {
		return "", "", err
	}
	if len(lines) != 2 || !shadowID.MatchString(lines[0]) || !strings.HasPrefix(lines[1], `\\?\GLOBALROOT\`) {
		return "", "", fmt.Errorf("unexpected answer %q", lines)
	}
	return lines[0], lines[1], nil
}

// shadowID is the form of a shadow copy id, which deleteShadow puts into a
// script.
var shadowID = regexp.MustCompile(`^\{[0-9A-Fa-f-]{36}\}$`)

// deleteShadow deletes the shadow copy id; a failure leaves it for Windows
// to reclaim and is not the capture's.
func deleteShadow(id string) {
	_, _ = powershell(`Get-WmiObject Win32_ShadowCopy | Where-Object { $_.ID -eq '` + id + `' } | ForEach-Object { $_.Delete() }`)
}
