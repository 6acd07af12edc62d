// dockerfile-check reads a Dockerfile with BuildKit's own Dockerfile front end and prints
// what it understood as JSON: parse errors, every RUN with its mounts (type and target),
// and the lint warnings that `docker build --check` would report.
//
// Usage: dockerfile-check FILE...   (one JSON object per file, in a JSON array)
//
// The lint pass runs BuildKit's full rule set (dockerfile2llb.DockerfileLint). Base image
// metadata is never fetched: an offline resolver answers with an empty image for the
// requested platform, so the check needs no network and no daemon.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

type mountReport struct {
	Type     string `json:"type"`
	Target   string `json:"target"`
	ID       string `json:"id,omitempty"`
	Sharing  string `json:"sharing,omitempty"`
	From     string `json:"from,omitempty"`
	Source   string `json:"source,omitempty"`
	Required bool   `json:"required,omitempty"`
}

type runReport struct {
	Line       int           `json:"line"`
	MountFlags []string      `json:"mount_flags"`
	Mounts     []mountReport `json:"mounts"`
	Command    string        `json:"command"`
	Heredocs   []string      `json:"heredocs"`
}

type stageReport struct {
	Name  string      `json:"name"`
	Base  string      `json:"base"`
	Line  int         `json:"line"`
	Runs  []runReport `json:"runs"`
	Count int         `json:"instructions"`
}

type warningReport struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
	Line    int    `json:"line"`
}

type fileReport struct {
	Path        string          `json:"path"`
	ParseErrors []string        `json:"parse_errors"`
	Syntax      string          `json:"syntax"`
	Stages      []stageReport   `json:"stages"`
	Warnings    []warningReport `json:"warnings"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-check FILE...")
		os.Exit(2)
	}
	reports := []fileReport{}
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		reports = append(reports, check(path, data))
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(reports); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func check(path string, data []byte) fileReport {
	report := fileReport{Path: path, ParseErrors: []string{}, Stages: []stageReport{}, Warnings: []warningReport{}}
	if syntax, _, _, ok := parser.DetectSyntax(data); ok {
		report.Syntax = syntax
	}
	result, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		report.ParseErrors = append(report.ParseErrors, locatedError(err))
		return report
	}
	// The instruction pass gets its own linter so its rules run exactly as in a build;
	// its warnings are reported again by the full lint pass below, so they are not kept here.
	instructionLinter := linter.New(&linter.Config{Warn: func(string, string, string, string, []parser.Range) {}})
	stages, metaArgs, err := instructions.Parse(result.AST, instructionLinter)
	if err != nil {
		report.ParseErrors = append(report.ParseErrors, locatedError(err))
		return report
	}
	rawMountFlags := map[int][]string{}
	for _, node := range result.AST.Children {
		if strings.EqualFold(node.Value, "run") {
			flags := []string{}
			for _, flag := range node.Flags {
				if strings.HasPrefix(flag, "--mount=") || flag == "--mount" {
					flags = append(flags, flag)
				}
			}
			rawMountFlags[node.StartLine] = flags
		}
	}
	lex := shell.NewLex(result.EscapeToken)
	for _, stage := range stages {
		stageOut := stageReport{Name: stage.Name, Base: stage.BaseName, Runs: []runReport{}, Count: len(stage.Commands)}
		if locations := stage.Location; len(locations) > 0 {
			stageOut.Line = locations[0].Start.Line
		}
		// Mount options are expanded with the stage's variables, as a build does.
		env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		for _, meta := range metaArgs {
			for _, arg := range meta.Args {
				if arg.Value != nil {
					env = append(env, arg.Key+"="+*arg.Value)
				}
			}
		}
		expand := func(word string) (string, error) {
			value, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(env))
			return value, err
		}
		for _, command := range stage.Commands {
			switch typed := command.(type) {
			case *instructions.EnvCommand:
				for _, pair := range typed.Env {
					value, err := expand(pair.Value)
					if err != nil {
						value = pair.Value
					}
					env = append(env, pair.Key+"="+value)
				}
			case *instructions.ArgCommand:
				for _, arg := range typed.Args {
					if arg.Value != nil {
						env = append(env, arg.Key+"="+*arg.Value)
					}
				}
			case *instructions.RunCommand:
				if err := typed.Expand(expand); err != nil {
					report.ParseErrors = append(report.ParseErrors, fmt.Sprintf("line %d: %v", stageOut.Line, err))
					continue
				}
				stageOut.Runs = append(stageOut.Runs, describeRun(typed, rawMountFlags))
			}
		}
		report.Stages = append(report.Stages, stageOut)
	}
	report.Warnings = lint(path, data, &report)
	return report
}

func describeRun(run *instructions.RunCommand, rawMountFlags map[int][]string) runReport {
	out := runReport{MountFlags: []string{}, Mounts: []mountReport{}, Heredocs: []string{}}
	if locations := run.Location(); len(locations) > 0 {
		out.Line = locations[0].Start.Line
	}
	if flags, ok := rawMountFlags[out.Line]; ok {
		out.MountFlags = flags
	}
	for _, mount := range instructions.GetMounts(run) {
		out.Mounts = append(out.Mounts, mountReport{
			Type:     string(mount.Type),
			Target:   mount.Target,
			ID:       mount.CacheID,
			Sharing:  string(mount.CacheSharing),
			From:     mount.From,
			Source:   mount.Source,
			Required: mount.Required,
		})
	}
	out.Command = strings.Join(run.CmdLine, " ")
	for _, file := range run.Files {
		out.Heredocs = append(out.Heredocs, file.Data)
	}
	return out
}

func lint(path string, data []byte, report *fileReport) []warningReport {
	warnings := []warningReport{}
	sourceMap := llb.NewSourceMap(nil, path, "Dockerfile", data)
	definition, err := llb.Scratch().Marshal(context.Background())
	if err != nil {
		report.ParseErrors = append(report.ParseErrors, err.Error())
		return warnings
	}
	sourceMap.Definition = definition
	platform := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	results, err := dockerfile2llb.DockerfileLint(context.Background(), data, dockerfile2llb.ConvertOpt{
		SourceMap:      sourceMap,
		MetaResolver:   offlineResolver{},
		TargetPlatform: &platform,
	})
	if err != nil {
		report.ParseErrors = append(report.ParseErrors, err.Error())
		return warnings
	}
	if results.Error != nil {
		line := 0
		if len(results.Error.Location.Ranges) > 0 {
			line = int(results.Error.Location.Ranges[0].Start.Line)
		}
		report.ParseErrors = append(report.ParseErrors, fmt.Sprintf("line %d: %s", line, results.Error.Message))
	}
	for _, warning := range results.Warnings {
		line := 0
		if warning.Location != nil && len(warning.Location.Ranges) > 0 {
			line = int(warning.Location.Ranges[0].Start.Line)
		}
		warnings = append(warnings, warningReport{Rule: warning.RuleName, Message: warning.Detail, Line: line})
	}
	return warnings
}

func locatedError(err error) string {
	var located *parser.LocationError
	if ok := asLocationError(err, &located); ok && len(located.Locations) > 0 && len(located.Locations[0]) > 0 {
		return fmt.Sprintf("line %d: %s", located.Locations[0][0].Start.Line, err.Error())
	}
	return err.Error()
}

func asLocationError(err error, target **parser.LocationError) bool {
	for err != nil {
		if located, ok := err.(*parser.LocationError); ok {
			*target = located
			return true
		}
		unwrapper, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = unwrapper.Unwrap()
	}
	return false
}

// offlineResolver stands in for a registry: every base image is an empty image with one
// layer for the requested platform, so linting never touches the network.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", "", nil, err
	}
	platform := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		platform = *opt.ImageOpt.Platform
	}
	config := map[string]any{
		"architecture": platform.Architecture,
		"os":           platform.OS,
		"config":       map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest.FromString(ref).String()}},
	}
	data, err := json.Marshal(config)
	if err != nil {
		return "", "", nil, err
	}
	return reference.TagNameOnly(named).String(), "", data, nil
}
