// Command compose-check loads the compose files the way the documentation tells
// users to run them, with the Compose Specification's own loader (compose-go), and
// fails on any error.
//
// Usage: compose-check [-C repo-root] FILE.md...  (relative paths are taken from the root)
//
// In each Markdown file it reads the fenced shell blocks in order. An `export`
// line (backslash continuations joined) adds the names it assigns to the
// environment, and a reader who follows the file from the top has every earlier
// export still set ("as above, plus ..."), so exports accumulate through the file.
// Each `docker compose ... up` line is then loaded from the repository root with
// exactly that environment, every variable set to a dummy value and nothing
// taken from this process's environment or a .env file: the files it names with
// -f / --file, or compose's own default discovery without them, and the profiles
// compose activates by default (none). Files without such a line are skipped.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// composeUp is one `docker compose ... up` command of a document and the environment a reader has at that point.
type composeUp struct {
	doc     string
	line    int
	command string
	files   []string
	env     []string // names, in the order they were first exported
}

var (
	fenceOpen   = regexp.MustCompile("^\\s*```(sh|bash|shell|console)?\\s*$")
	fenceClose  = regexp.MustCompile("^\\s*```\\s*$")
	exportLine  = regexp.MustCompile(`^export\s`)
	assignment  = regexp.MustCompile(`(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=`)
	composeLine = regexp.MustCompile(`^docker\s+compose\s`)
)

func main() {
	root := flag.String("C", ".", "the repository root: compose runs there")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-C repo-root] FILE.md...")
		os.Exit(2)
	}
	var commands []composeUp
	for _, doc := range flag.Args() {
		path := doc
		if !filepath.IsAbs(path) {
			path = filepath.Join(*root, doc)
		}
		found, err := scan(path, doc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", doc, err)
			os.Exit(1)
		}
		commands = append(commands, found...)
	}
	if len(commands) == 0 {
		fmt.Fprintln(os.Stderr, "compose-check: no `docker compose ... up` command in", strings.Join(flag.Args(), ", "))
		os.Exit(1)
	}
	failed := 0
	for _, c := range commands {
		fmt.Printf("%s:%d: %s\n  exported: %s\n", c.doc, c.line, c.command, strings.Join(c.env, " "))
		services, disabled, err := load(*root, c)
		if err != nil {
			failed++
			fmt.Printf("  FAIL: %v\n", err)
			continue
		}
		fmt.Printf("  ok: %d services (%s)", len(services), strings.Join(services, ", "))
		if len(disabled) > 0 {
			fmt.Printf("; not started without a profile: %s", strings.Join(disabled, ", "))
		}
		fmt.Println()
	}
	if failed > 0 {
		fmt.Printf("compose-check: %d of %d documented compose commands do not load\n", failed, len(commands))
		os.Exit(1)
	}
	fmt.Printf("compose-check: all %d documented compose commands load\n", len(commands))
}

// scan returns the `docker compose ... up` commands of one Markdown file.
func scan(path, doc string) ([]composeUp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		found    []composeUp
		exported []string
		inShell  bool
		inOther  bool
		pending  string
		start    int
		n        int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		text := sc.Text()
		switch {
		case !inShell && !inOther:
			if m := fenceOpen.FindStringSubmatch(text); m != nil {
				inShell = m[1] != ""
				inOther = m[1] == ""
			} else if strings.HasPrefix(strings.TrimSpace(text), "```") {
				inOther = true
			}
			continue
		case fenceClose.MatchString(text):
			inShell, inOther, pending = false, false, ""
			continue
		case inOther:
			continue
		}
		if pending == "" {
			start = n
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(text, " \t"), `\`); ok {
			pending += body + " "
			continue
		}
		line := strings.TrimSpace(stripComment(pending + text))
		pending = ""
		switch {
		case exportLine.MatchString(line):
			for _, m := range assignment.FindAllStringSubmatch(strings.TrimPrefix(line, "export"), -1) {
				if !slices.Contains(exported, m[1]) {
					exported = append(exported, m[1])
				}
			}
		case composeLine.MatchString(line):
			args := strings.Fields(line)[2:]
			if !slices.Contains(args, "up") {
				continue
			}
			var files []string
			for i := 0; i < len(args)-1; i++ {
				if args[i] == "-f" || args[i] == "--file" {
					files = append(files, args[i+1])
				}
			}
			found = append(found, composeUp{doc: doc, line: start, command: line, files: files, env: slices.Clone(exported)})
		}
	}
	return found, sc.Err()
}

// stripComment drops a trailing shell comment: a # at the start or after a blank.
func stripComment(line string) string {
	for i, r := range line {
		if r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// load runs compose-go's project loader (interpolation, schema validation,
// merging, normalization, consistency checks) the way `docker compose up` does,
// with only the exported names set.
func load(root string, c composeUp) (services, disabled []string, err error) {
	env := make([]string, 0, len(c.env))
	for _, name := range c.env {
		env = append(env, fmt.Sprintf("%s=compose-check-%s", name, strings.ToLower(name)))
	}
	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithDefaultProfiles(),
	}
	if len(c.files) == 0 {
		opts = append(opts, cli.WithDefaultConfigPath)
	}
	files := make([]string, 0, len(c.files))
	for _, f := range c.files {
		files = append(files, filepath.Join(root, f))
	}
	options, err := cli.NewProjectOptions(files, opts...)
	if err != nil {
		return nil, nil, err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return nil, nil, err
	}
	for name := range project.Services {
		services = append(services, name)
	}
	for name := range project.DisabledServices {
		disabled = append(disabled, name)
	}
	slices.Sort(services)
	slices.Sort(disabled)
	return services, disabled, nil
}
