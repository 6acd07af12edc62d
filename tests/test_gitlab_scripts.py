"""Reading GitLab job scripts: the directories Go runs in, and where the scripts put Go's caches."""

from __future__ import annotations

from ci_gocache.targets.gitlab.scripts import locate, read_scripts


def _go_directories(script: list[str], before: list[str] | None = None, after: list[str] | None = None):
    facts = read_scripts({"before_script": before or [], "script": script, "after_script": after or []})
    return facts.go_directories, facts.unknown_directories


def test_cd_in_before_script_carries_into_script():
    assert _go_directories(["go test ./..."], before=["cd app"]) == (["app"], [])


def test_project_directory_counts_only_when_go_runs_there():
    assert _go_directories(["go version", "cd app && go build ."]) == (["app"], [])
    assert _go_directories(["go vet ./...", "cd app", "go test ./..."]) == (["", "app"], [])


def test_subshell_cd_ends_with_the_subshell():
    assert _go_directories(["(cd tools && go generate ./...)", "go build ./..."]) == (["tools", ""], [])


def test_after_script_starts_again_in_the_project_directory():
    assert _go_directories(["go test ./..."], before=["cd app"], after=["go clean -testcache"]) == (["app", ""], [])


def test_go_dash_c_is_relative_to_the_shell_directory():
    assert _go_directories(["cd services", "go -C api test ./..."]) == (["services/api"], [])
    assert _go_directories(["env -i GOFLAGS=-x go -C app test -race ./..."]) == (["app"], [])


def test_pushd_and_popd_return_to_where_the_shell_was():
    assert _go_directories(["pushd app >/dev/null", "go test ./...", "popd", "go vet ./..."]) == (["app", ""], [])


def test_cd_to_the_project_directory_variable_and_back_up():
    assert _go_directories(["cd app/cmd", "cd ../..", "go test ./...", 'cd "$CI_PROJECT_DIR/app"', "go vet"]) == (
        ["", "app"],
        [],
    )


def test_directories_known_only_at_run_time_are_reported_not_guessed():
    loop = 'for module in a b; do (cd "$module" && go vet ./...); done'
    assert _go_directories([loop]) == ([], ['"$module"'])
    assert _go_directories(["cd /builds/elsewhere", "go test ./..."]) == ([], ["/builds/elsewhere"])
    assert _go_directories(["cd ../other", "go test ./..."]) == ([], ["../other"])


def test_heredoc_lines_and_comments_are_not_commands():
    script = "cat > notes <<'EOF'\ncd elsewhere\ngo build ./...\nEOF\n# cd commented\ngo test ./...\n"
    assert _go_directories([script]) == ([""], [])


def test_sh_dash_c_is_followed_in_its_own_shell():
    assert _go_directories(["sh -c 'cd app && go test ./...'", "go vet ./..."]) == (["app", ""], [])


def test_go_version_and_go_env_do_not_count_as_go_runs():
    facts = read_scripts({"script": ["go version", "export GOCACHE=$(go env GOCACHE)", "cd app", "go test"]})
    assert facts.go_directories == ["app"]


def test_assignments_of_go_variables_are_collected_with_the_shell_directory():
    facts = read_scripts(
        {
            "before_script": ["cd app", 'export GOMODCACHE="$CI_PROJECT_DIR/.cache/mod" PATH=$PATH:/x'],
            "script": ["GOCACHE=$PWD/.gocache go test ./...", "env GOFLAGS=-mod=mod go vet", "go env -w GOPATH=/go"],
        }
    )
    assert [(setting.name, setting.value, setting.section, setting.cwd) for setting in facts.settings] == [
        ("GOMODCACHE", "$CI_PROJECT_DIR/.cache/mod", "before_script", "app"),
        ("GOCACHE", "$PWD/.gocache", "script", "app"),
        ("GOFLAGS", "-mod=mod", "script", "app"),
        ("GOPATH", "/go", "script", "app"),
    ]
    assert [setting.by_go_env for setting in facts.settings] == [False, False, False, True]


def test_locate_inside_outside_relative_and_unknown():
    variables = {"GOPATH": "$CI_PROJECT_DIR/.go", "ELSEWHERE": "/opt"}
    assert locate("${CI_PROJECT_DIR}/.cache/gomod/", variables, "").directory == ".cache/gomod"
    assert locate("$GOPATH/pkg/mod", variables, "").directory == ".go/pkg/mod"
    assert locate("$PWD/.gocache", variables, "app").directory == "app/.gocache"
    assert locate("$CI_PROJECT_DIR/.go:/go", variables, "", list_of_paths=True).directory == ".go"
    for outside in ("/go/pkg/mod", "$HOME/.cache/go-build", "~/go", "$CI_PROJECT_DIR/../up", "$ELSEWHERE/mod", ""):
        assert locate(outside, variables, "").kind == "outside", outside
    assert locate("$CI_PROJECT_DIR", variables, "").kind == "project"
    assert locate(".cache/go-build", variables, "").kind == "relative"
    for unknown in ("$(go env GOPATH)/pkg/mod", "$UNSET/mod", "$PWD/x", "${CI_PROJECT_DIR:-.}/x"):
        assert locate(unknown, variables, None).kind == "unknown", unknown
