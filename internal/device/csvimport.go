package device

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/internal/apperr"
)

// MaxImportRows bounds the data rows of one import.
const MaxImportRows = 5000

// The columns an import understands. A column is added here without
// changing the report: rows name their failing column in Message.
const (
	colMAC    = "mac_address"
	colType   = "type"
	colName   = "name"
	colSecret = "secret"
)

var importColumns = map[string]bool{colMAC: true, colType: true, colName: true, colSecret: true}

// ImportStatus is what one row did.
type ImportStatus string

// The row outcomes (openapi.yaml's DeviceImportStatus).
const (
	ImportCreated   ImportStatus = "created"
	ImportUpdated   ImportStatus = "updated"
	ImportUnchanged ImportStatus = "unchanged"
	ImportError     ImportStatus = "error"
)

// ImportRow is the outcome of one data row.
type ImportRow struct {
	Line     int
	MAC      string // normalised when valid, as written otherwise
	Status   ImportStatus
	DeviceID int // 0 on error
	Message  string
	// Secret is the device's new secret (64 hex digits) when the row
	// asked for one: shown once, never stored in this form.
	Secret string
}

// ImportReport is the outcome of an import, row by row.
type ImportReport struct {
	Created, Updated, Failed int
	Rows                     []ImportRow
}

func rejectImport(msg string) error { return apperr.ImportRejected("csv", msg) }

// importLine is one parsed data row.
type importLine struct {
	line      int
	cells     map[string]string
	mac, name string
	typeID    *int
	// wantSecret: the secret cell asks for a new secret.
	wantSecret bool
	err        string
}

// ImportOptions are an import's choices beyond the CSV text.
type ImportOptions struct {
	// Secrets gives every imported row a new secret; without it, the rows
	// whose secret cell says yes get one.
	Secrets bool
	// Creds provisions the secrets (Credentials.Provision).
	Creds *Credentials
}

// Import registers devices from CSV text (see openapi.yaml's
// adminImportDevices): a header naming the columns, then one device per
// line. Bad rows are reported and skipped; the others are imported. A
// header or file that cannot be read is refused as a whole.
func (s *Service) Import(ctx context.Context, text string) (ImportReport, error) {
	return s.ImportWith(ctx, text, ImportOptions{})
}

// ImportWith is Import that also provisions device secrets for the rows
// that ask for one (or for every row, with o.Secrets), returned once in
// their rows. An import asking for secrets where they are not configured
// is refused as a whole before anything is written.
func (s *Service) ImportWith(ctx context.Context, text string, o ImportOptions) (ImportReport, error) {
	lines, err := parseImport(text)
	if err != nil {
		return ImportReport{}, err
	}
	types, err := s.db.DeviceType.Query().All(ctx)
	if err != nil {
		return ImportReport{}, fmt.Errorf("device: import: %w", err)
	}
	seen := map[string]int{}
	var macs []string
	for i := range lines {
		l := &lines[i]
		l.check(types)
		if l.err != "" {
			continue
		}
		if first, dup := seen[l.mac]; dup {
			l.err = fmt.Sprintf("%s: Repeated in this file (first on line %d).", colMAC, first)
			continue
		}
		seen[l.mac] = l.line
		macs = append(macs, l.mac)
		if o.Secrets {
			l.wantSecret = true
		}
		if l.wantSecret && (o.Creds == nil || o.Creds.aead == nil) {
			return ImportReport{}, secretsUnavailable()
		}
	}
	existing := map[string]*ent.Device{}
	for start := 0; start < len(macs); start += 500 {
		chunk := macs[start:min(start+500, len(macs))]
		ds, err := s.db.Device.Query().Where(device.MACAddressIn(chunk...)).All(ctx)
		if err != nil {
			return ImportReport{}, fmt.Errorf("device: import: %w", err)
		}
		for _, d := range ds {
			existing[d.MACAddress] = d
		}
	}
	var rep ImportReport
	for i := range lines {
		l := &lines[i]
		row := ImportRow{Line: l.line, MAC: l.mac}
		if l.err == "" {
			row.Status, row.DeviceID, err = s.importOne(ctx, l, existing[l.mac])
			if err != nil {
				return ImportReport{}, err
			}
			if l.wantSecret {
				p, err := o.Creds.Provision(ctx, l.mac)
				if err != nil {
					return ImportReport{}, err
				}
				row.Secret = p.Secret
			}
		} else {
			row.Status, row.Message = ImportError, l.err
			if row.MAC == "" {
				row.MAC = l.cells[colMAC]
			}
		}
		switch row.Status {
		case ImportCreated:
			rep.Created++
		case ImportUpdated:
			rep.Updated++
		case ImportError:
			rep.Failed++
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

// importOne writes one valid row: a new device, or the row's type and
// name on a known one (empty cells keep the device's values).
func (s *Service) importOne(ctx context.Context, l *importLine, d *ent.Device) (ImportStatus, int, error) {
	if d == nil {
		create := s.db.Device.Create().SetMACAddress(l.mac).SetName(l.name)
		if l.typeID != nil {
			create.SetDeviceTypeID(*l.typeID)
		}
		created, err := create.Save(ctx)
		switch {
		case err == nil:
			return ImportCreated, created.ID, nil
		case !ent.IsConstraintError(err):
			return "", 0, fmt.Errorf("device: import %s: %w", l.mac, err)
		}
		// Created meanwhile (a bind): update it instead.
		d, err = s.db.Device.Query().Where(device.MACAddress(l.mac)).Only(ctx)
		if err != nil {
			return "", 0, fmt.Errorf("device: import %s: %w", l.mac, err)
		}
	}
	upd := s.db.Device.UpdateOne(d)
	changed := false
	if l.name != "" && l.name != d.Name {
		upd.SetName(l.name)
		changed = true
	}
	if l.typeID != nil && (d.DeviceTypeID == nil || *d.DeviceTypeID != *l.typeID) {
		upd.SetDeviceTypeID(*l.typeID)
		changed = true
	}
	if !changed {
		return ImportUnchanged, d.ID, nil
	}
	if err := upd.Exec(ctx); err != nil {
		return "", 0, fmt.Errorf("device: import %s: %w", l.mac, err)
	}
	return ImportUpdated, d.ID, nil
}

// check validates a row's cells, setting mac, name, typeID or err.
func (l *importLine) check(types []*ent.DeviceType) {
	if l.err != "" {
		return
	}
	raw := l.cells[colMAC]
	if strings.TrimSpace(raw) == "" {
		l.err = colMAC + ": This field may not be blank."
		return
	}
	mac, err := NormalizeMAC(raw)
	if err != nil {
		l.err = colMAC + ": " + err.Error()
		return
	}
	l.mac = mac
	l.name = strings.TrimSpace(l.cells[colName])
	if utf8.RuneCountInString(l.name) > 100 {
		l.err = colName + ": Ensure this field has no more than 100 characters."
		return
	}
	switch strings.ToLower(strings.TrimSpace(l.cells[colSecret])) {
	case "", "no":
	case "yes":
		l.wantSecret = true
	default:
		l.err = colSecret + ": Must be yes, no or empty."
		return
	}
	if t := strings.TrimSpace(l.cells[colType]); t != "" {
		id, ok := findType(types, t)
		if !ok {
			l.err = fmt.Sprintf("%s: No device type is named or numbered %q.", colType, t)
			return
		}
		l.typeID = &id
	}
}

// findType resolves a type cell: a name (case-insensitive), else an id.
func findType(types []*ent.DeviceType, cell string) (int, bool) {
	for _, t := range types {
		if strings.EqualFold(t.Name, cell) {
			return t.ID, true
		}
	}
	if id, err := strconv.Atoi(cell); err == nil {
		for _, t := range types {
			if t.ID == id {
				return id, true
			}
		}
	}
	return 0, false
}

// parseImport reads the header and the data rows.
func parseImport(text string) ([]importLine, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\uFEFF")))
	r.FieldsPerRecord = -1 // rows of the wrong width are reported per row
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, rejectImport("The file is empty.")
	}
	if err != nil {
		return nil, rejectImport("The header cannot be read: " + err.Error())
	}
	cols := make([]string, len(header))
	has := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case !importColumns[h]:
			return nil, rejectImport(fmt.Sprintf("Unknown column %q in the header (known: mac_address, type, name, secret).", h))
		case has[h]:
			return nil, rejectImport(fmt.Sprintf("Column %q appears twice in the header.", h))
		}
		has[h] = true
		cols[i] = h
	}
	if !has[colMAC] {
		return nil, rejectImport("The header has no mac_address column.")
	}
	var lines []importLine
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A quoting error leaves the reader unsure where rows end,
			// so the rest of the file cannot be trusted.
			return nil, rejectImport("The file cannot be read: " + err.Error())
		}
		if len(lines) == MaxImportRows {
			return nil, rejectImport(fmt.Sprintf("At most %d rows can be imported at once.", MaxImportRows))
		}
		line, _ := r.FieldPos(0)
		l := importLine{line: line, cells: map[string]string{}}
		for i, v := range rec {
			if i < len(cols) {
				l.cells[cols[i]] = v
			}
		}
		if len(rec) != len(cols) {
			l.err = fmt.Sprintf("Expected %d columns, got %d.", len(cols), len(rec))
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, rejectImport("The file has a header but no rows.")
	}
	return lines, nil
}
