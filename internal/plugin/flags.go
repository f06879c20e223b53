package plugin

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// flags is a command's flag set: the standard flag package, with
// kubectl's conventions on top: a one-letter shorthand per flag (-n and
// --namespace), flags before and after positional arguments, "--" ending
// the flags, -nvalue for a shorthand and its value, and -h/--help.
type flags struct {
	fs *flag.FlagSet
	// short maps a long name to its shorthand, and back.
	short, long map[string]string
	// global names the connection flags, shown apart in help.
	global map[string]bool
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{fs: fs, short: map[string]string{}, long: map[string]string{}, global: map[string]bool{}}
}

func (f *flags) alias(long, short string) {
	if short != "" {
		f.short[long] = short
		f.long[short] = long
	}
}

func (f *flags) stringVar(p *string, long, short, def, usage string) {
	f.fs.StringVar(p, long, def, usage)
	if short != "" {
		f.fs.StringVar(p, short, def, usage)
	}
	f.alias(long, short)
}

func (f *flags) boolVar(p *bool, long, short string, def bool, usage string) {
	f.fs.BoolVar(p, long, def, usage)
	if short != "" {
		f.fs.BoolVar(p, short, def, usage)
	}
	f.alias(long, short)
}

func (f *flags) intVar(p *int, long, short string, def int, usage string) {
	f.fs.IntVar(p, long, def, usage)
	if short != "" {
		f.fs.IntVar(p, short, def, usage)
	}
	f.alias(long, short)
}

func (f *flags) durationVar(p *time.Duration, long, short string, def time.Duration, usage string) {
	f.fs.DurationVar(p, long, def, usage)
	if short != "" {
		f.fs.DurationVar(p, short, def, usage)
	}
	f.alias(long, short)
}

// isBool says whether fl takes no value.
func isBool(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// scan splits args into flags (with their values) and positional
// arguments, which may come in any order; it reports -h/--help. posAt is
// the index in args of each positional argument. With untilFirst it stops
// at the first positional argument (a subcommand, whose flags follow).
func (f *flags) scan(args []string, untilFirst bool) (flagArgs, pos []string, posAt []int, help bool, err error) {
	for i := 0; i < len(args); i++ {
		if untilFirst && len(pos) > 0 {
			break
		}
		a := args[i]
		if a == "--" {
			for j := i + 1; j < len(args); j++ {
				pos, posAt = append(pos, args[j]), append(posAt, j)
			}
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos, posAt = append(pos, a), append(posAt, i)
			continue
		}
		dashes := 1
		if a[1] == '-' {
			dashes = 2
		}
		name, _, hasValue := strings.Cut(a[dashes:], "=")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil, nil, nil, false, fmt.Errorf("bad flag syntax: %s", a)
		}
		fl := f.fs.Lookup(name)
		if fl == nil && (name == "h" || name == "help") {
			help = true
			continue
		}
		if fl == nil && dashes == 1 && len(name) > 1 && !hasValue {
			// -nkube-system: a shorthand and its value, as kubectl takes it.
			if s := f.fs.Lookup(name[:1]); s != nil && !isBool(s) {
				flagArgs = append(flagArgs, "-"+name[:1], name[1:])
				continue
			}
		}
		if fl == nil {
			if dashes == 1 && len(name) == 1 {
				return nil, nil, nil, false, fmt.Errorf("unknown shorthand flag: %q in %s", name, a)
			}
			return nil, nil, nil, false, fmt.Errorf("unknown flag: %s", a)
		}
		if hasValue || isBool(fl) {
			flagArgs = append(flagArgs, a)
			continue
		}
		if i+1 >= len(args) {
			return nil, nil, nil, false, fmt.Errorf("flag needs an argument: %s", a)
		}
		flagArgs = append(flagArgs, a, args[i+1])
		i++
	}
	return flagArgs, pos, posAt, help, nil
}

// parse sets the flags in args and returns the positional arguments.
func (f *flags) parse(args []string) (pos []string, help bool, err error) {
	flagArgs, pos, _, help, err := f.scan(args, false)
	if err != nil || help {
		return nil, help, err
	}
	if err := f.fs.Parse(flagArgs); err != nil {
		return nil, false, err
	}
	return pos, false, nil
}

// usage writes the flags, the command's own and then the global ones,
// the way kubectl lists them.
func (f *flags) usage(w io.Writer) {
	var own, global []*flag.Flag
	f.fs.VisitAll(func(fl *flag.Flag) {
		if _, isShort := f.long[fl.Name]; isShort {
			return
		}
		if f.global[fl.Name] {
			global = append(global, fl)
		} else {
			own = append(own, fl)
		}
	})
	section := func(title string, list []*flag.Flag) {
		if len(list) == 0 {
			return
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, fl := range list {
			typ, text := flag.UnquoteUsage(fl)
			names := "    --" + fl.Name
			if s := f.short[fl.Name]; s != "" {
				names = "-" + s + ", --" + fl.Name
			}
			if typ != "" {
				names += " " + typ
			}
			def := ""
			if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "0s" {
				def = fmt.Sprintf(" (default %q)", fl.DefValue)
			}
			fmt.Fprintf(w, "  %s\n%s", names, wrap(text+def, "        ", 80))
		}
	}
	section("Flags", own)
	section("Connection flags (every command)", global)
}

// wrap breaks text into lines of at most width columns, each with prefix.
func wrap(text, prefix string, width int) string {
	var b strings.Builder
	line := prefix
	for _, word := range strings.Fields(text) {
		if line != prefix && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = prefix
		}
		if line != prefix {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}
