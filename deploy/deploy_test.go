// Package deploy holds no code: its tests check the deployment material
// (docker-compose.yml, .env.example, deploy/Dockerfile, deploy/k8s/*.yaml)
// by parsing it, since no container engine runs where the tests run. They
// catch what would otherwise surface only in production: a setting pairsyncd
// does not know, a secret missing from .env.example, a port published on
// every interface, a probe on the wrong path, a root user.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// root is the repository's top, seen from this package's directory.
const root = ".."

func readFile(t *testing.T, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{root}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// environmentOnly are the settings pairsyncd reads from the environment only
// (no flag, so they are not in the first column of the README's table).
var environmentOnly = []string{"PAIRSYNC_ADMIN_PASSWORD", "PAIRSYNC_MINIO_ACCESS_KEY", "PAIRSYNC_MINIO_SECRET_KEY"}

// announced are settings another piece of work is adding to pairsyncd
// (flags -mongodb-uri and -mongodb-database). They are accepted while the
// README does not list them yet, and the test says so; once the README has
// them this list changes nothing.
var announced = []string{"PAIRSYNC_MONGODB_URI", "PAIRSYNC_MONGODB_DATABASE"}

// knownSettings returns the PAIRSYNC_* settings pairsyncd knows: the
// backticked names in the README's Configuration table, plus the
// environment-only ones.
func knownSettings(t *testing.T) map[string]bool {
	t.Helper()
	readme := string(readFile(t, "README.md"))
	start := strings.Index(readme, "\n## Configuration")
	if start < 0 {
		t.Fatal("README.md has no \"## Configuration\" section")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	known := map[string]bool{}
	name := regexp.MustCompile("`(PAIRSYNC_[A-Z0-9_]+)`")
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(line, -1) {
			known[m[1]] = true
		}
	}
	if len(known) < 10 {
		t.Fatalf("README.md's Configuration table lists %d PAIRSYNC_ settings, want at least 10 (did its format change?)", len(known))
	}
	for _, n := range environmentOnly {
		known[n] = true
	}
	for _, n := range announced {
		if !known[n] {
			t.Logf("%s is not in README.md's Configuration table yet; accepted as announced (being added to pairsyncd)", n)
			known[n] = true
		}
	}
	return known
}

// --- docker-compose.yml ---

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                 `yaml:"image"`
	Build       *composeBuild          `yaml:"build"`
	Command     stringList             `yaml:"command"`
	Entrypoint  stringList             `yaml:"entrypoint"`
	Environment envMap                 `yaml:"environment"`
	Ports       []portSpec             `yaml:"ports"`
	Volumes     []string               `yaml:"volumes"`
	DependsOn   map[string]composeDeps `yaml:"depends_on"`
	Healthcheck *struct {
		Test     stringList `yaml:"test"`
		Disable  bool       `yaml:"disable"`
		Interval string     `yaml:"interval"`
	} `yaml:"healthcheck"`
	Restart         string   `yaml:"restart"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	ReadOnly        bool     `yaml:"read_only"`
	SecurityOpt     []string `yaml:"security_opt"`
	CapDrop         []string `yaml:"cap_drop"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeDeps struct {
	Condition string `yaml:"condition"`
}

// stringList is a compose field written either as one string or a list.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = stringList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// envMap is a service's environment, written as a map or as KEY=VALUE items.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	m := envMap{}
	switch n.Kind {
	case yaml.MappingNode:
		var raw map[string]*string
		if err := n.Decode(&raw); err != nil {
			return err
		}
		for k, v := range raw {
			if v != nil {
				m[k] = *v
			} else {
				m[k] = ""
			}
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, item := range l {
			k, v, _ := strings.Cut(item, "=")
			m[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment is neither a map nor a list", n.Line)
	}
	*e = m
	return nil
}

// portSpec is one published port, from the short ("[ip:]host:container")
// or the long syntax.
type portSpec struct {
	HostIP    string // "" means every interface
	Published string // "" means an ephemeral port (still on every interface)
	Target    string
	raw       string
}

func (p *portSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var long struct {
			Target    any    `yaml:"target"`
			Published any    `yaml:"published"`
			HostIP    string `yaml:"host_ip"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		*p = portSpec{HostIP: long.HostIP, Target: fmt.Sprint(long.Target), raw: fmt.Sprint(long)}
		if long.Published != nil {
			p.Published = fmt.Sprint(long.Published)
		}
		return nil
	}
	s := n.Value
	p.raw = s
	s, _, _ = strings.Cut(s, "/")  // protocol
	if strings.HasPrefix(s, "[") { // [v6]:host:container
		end := strings.Index(s, "]")
		if end < 0 {
			return fmt.Errorf("line %d: bad port %q", n.Line, p.raw)
		}
		p.HostIP, s = s[1:end], strings.TrimPrefix(s[end+1:], ":")
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 3 && p.HostIP == "":
		p.HostIP, p.Published, p.Target = parts[0], parts[1], parts[2]
	case len(parts) == 2:
		p.Published, p.Target = parts[0], parts[1]
	case len(parts) == 1:
		p.Target = parts[0]
	default:
		return fmt.Errorf("line %d: bad port %q", n.Line, p.raw)
	}
	return nil
}

func (p portSpec) everyInterface() bool {
	return p.HostIP == "" || p.HostIP == "0.0.0.0" || p.HostIP == "::"
}

func loadCompose(t *testing.T, path ...string) (composeFile, []byte) {
	t.Helper()
	raw := readFile(t, path...)
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %v", filepath.Join(path...), err)
	}
	return c, raw
}

// Services that run to completion before others start (their dependants
// wait with service_completed_successfully).
func initServices(c composeFile) map[string]bool {
	init := map[string]bool{}
	for _, s := range c.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == "service_completed_successfully" {
				init[dep] = true
			}
		}
	}
	return init
}

func TestComposeServices(t *testing.T) {
	c, _ := loadCompose(t, "docker-compose.yml")
	for _, name := range []string{"mongo-keyfile", "mongo", "minio", "minio-init", "pairsyncd"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no service %q", name)
		}
	}
	images := map[string]*regexp.Regexp{
		"mongo":      regexp.MustCompile(`^mongo:8(\.\d+)*$`),
		"minio":      regexp.MustCompile(`^minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$`),
		"minio-init": regexp.MustCompile(`^minio/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$`),
	}
	for name, want := range images {
		if got := c.Services[name].Image; !want.MatchString(got) {
			t.Errorf("service %s: image %q, want one matching %s (a pinned release)", name, got, want)
		}
	}
	init := initServices(c)
	for _, name := range []string{"mongo-keyfile", "minio-init"} {
		if !init[name] {
			t.Errorf("service %s: no service waits for it with condition service_completed_successfully", name)
		}
	}
	for name, s := range c.Services {
		t.Run(name, func(t *testing.T) {
			if init[name] {
				if s.Restart != "no" {
					t.Errorf("init service: restart %q, want \"no\" (it runs once and exits)", s.Restart)
				}
				if s.Healthcheck != nil {
					t.Errorf("init service has a healthcheck; it runs to completion instead")
				}
				return
			}
			if s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) == 0 {
				t.Errorf("long-running service has no healthcheck")
			}
			if s.Restart != "unless-stopped" && s.Restart != "always" {
				t.Errorf("restart %q, want unless-stopped or always", s.Restart)
			}
			for dep, d := range s.DependsOn {
				want := "service_healthy"
				if init[dep] {
					want = "service_completed_successfully"
				}
				if d.Condition != want {
					t.Errorf("depends_on %s: condition %q, want %q", dep, d.Condition, want)
				}
			}
		})
	}
}

func TestComposePairsyncd(t *testing.T) {
	c, _ := loadCompose(t, "docker-compose.yml")
	p, ok := c.Services["pairsyncd"]
	if !ok {
		t.Fatal("docker-compose.yml has no service pairsyncd")
	}
	if p.Build == nil || p.Build.Context != "." || p.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("pairsyncd build: %+v, want context . and dockerfile deploy/Dockerfile", p.Build)
	}
	wantDeps := map[string]string{
		"mongo":      "service_healthy",
		"minio":      "service_healthy",
		"minio-init": "service_completed_successfully",
	}
	for dep, want := range wantDeps {
		if got := p.DependsOn[dep].Condition; got != want {
			t.Errorf("pairsyncd depends_on %s: condition %q, want %q", dep, got, want)
		}
	}
	env := p.Environment
	for k, want := range map[string]string{
		"PAIRSYNC_ADDR":           "0.0.0.0:8080",
		"PAIRSYNC_STORAGE":        "mongo",
		"PAIRSYNC_PHOTOS":         "minio",
		"PAIRSYNC_MINIO_ENDPOINT": "minio:9000",
	} {
		if env[k] != want {
			t.Errorf("pairsyncd %s = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"PAIRSYNC_MONGODB_URI", "PAIRSYNC_MONGODB_DATABASE", "PAIRSYNC_MINIO_PUBLIC_ENDPOINT",
		"PAIRSYNC_MINIO_BUCKET", "PAIRSYNC_MINIO_ACCESS_KEY", "PAIRSYNC_MINIO_SECRET_KEY"} {
		if env[k] == "" {
			t.Errorf("pairsyncd does not set %s", k)
		}
	}
	if uri := env["PAIRSYNC_MONGODB_URI"]; !strings.Contains(uri, "@mongo:27017/") || !strings.Contains(uri, "replicaSet=rs0") {
		t.Errorf("PAIRSYNC_MONGODB_URI %q: want the replica set rs0 at mongo:27017", uri)
	}
	// The root accounts stay with administration: pairsyncd gets its own.
	for k, v := range env {
		if strings.Contains(v, "MONGO_ROOT_") || strings.Contains(v, "MINIO_ROOT_") {
			t.Errorf("pairsyncd %s uses a root credential (%s)", k, v)
		}
	}
	if !p.ReadOnly || !slices.Contains(p.CapDrop, "ALL") || !slices.Contains(p.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("pairsyncd: read_only %v, cap_drop %v, security_opt %v; want true, [ALL], [no-new-privileges:true]",
			p.ReadOnly, p.CapDrop, p.SecurityOpt)
	}
	drain, shutdown := mustDuration(t, env["PAIRSYNC_DRAIN_DELAY"], "0s"), mustDuration(t, env["PAIRSYNC_SHUTDOWN_TIMEOUT"], "10s")
	grace := mustDuration(t, p.StopGracePeriod, "10s")
	if drain+shutdown > 14*time.Second || drain+shutdown >= grace {
		t.Errorf("pairsyncd: drain %v + shutdown %v: want at most 14s and under stop_grace_period %v", drain, shutdown, grace)
	}

	// The subcommand itself is tested in server/cmd/pairsyncd
	// (TestHealthcheck); here, that compose runs it in exec form (the image
	// has no shell) at the path the Dockerfile puts the binary.
	t.Run("healthcheck subcommand", func(t *testing.T) {
		test := []string(p.Healthcheck.Test)
		if !slices.Equal(test, []string{"CMD", "/pairsyncd", "healthcheck"}) {
			t.Fatalf("pairsyncd healthcheck %q: want [CMD /pairsyncd healthcheck] (exec form: the image has no shell)", test)
		}
		if df := readFile(t, "deploy", "Dockerfile"); !bytes.Contains(df, []byte("/pairsyncd")) {
			t.Fatalf("deploy/Dockerfile does not put the binary at /pairsyncd, which the healthcheck runs")
		}
	})
}

func mustDuration(t *testing.T, s, def string) time.Duration {
	t.Helper()
	if s == "" {
		s = def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

func TestComposeSettingsAreKnown(t *testing.T) {
	known := knownSettings(t)
	c, _ := loadCompose(t, "docker-compose.yml")
	for name, s := range c.Services {
		for k := range s.Environment {
			if strings.HasPrefix(k, "PAIRSYNC_") && !known[k] {
				t.Errorf("service %s sets %s, which pairsyncd does not know (README.md's Configuration table)", name, k)
			}
		}
	}
}

func TestComposePorts(t *testing.T) {
	for _, file := range []string{"docker-compose.yml", "deploy/compose.test.yml"} {
		c, _ := loadCompose(t, file)
		for name, s := range c.Services {
			for _, p := range s.Ports {
				// MinIO's S3 API is for phones: they upload and download
				// photos with URLs signed for PAIRSYNC_MINIO_PUBLIC_ENDPOINT.
				if p.everyInterface() && !(name == "minio" && p.Target == "9000") {
					t.Errorf("%s: service %s publishes %q on every interface; only MinIO's API (9000) may", file, name, p.raw)
				}
			}
		}
	}
	c, _ := loadCompose(t, "docker-compose.yml")
	if got := c.Services["pairsyncd"].Ports; len(got) != 1 || got[0].HostIP != "127.0.0.1" || got[0].Published != "8080" || got[0].Target != "8080" {
		t.Errorf("pairsyncd ports %+v, want exactly 127.0.0.1:8080:8080", got)
	}
	if got := c.Services["mongo"].Ports; len(got) != 0 {
		t.Errorf("mongo publishes %+v in docker-compose.yml, want nothing (deploy/compose.test.yml does it for tests)", got)
	}
	api := false
	for _, p := range c.Services["minio"].Ports {
		api = api || (p.Target == "9000" && p.Published == "9000")
	}
	if !api {
		t.Errorf("minio does not publish its API on 9000 (phones reach it there)")
	}

	override, _ := loadCompose(t, "deploy", "compose.test.yml")
	if len(override.Services) != 1 {
		t.Errorf("deploy/compose.test.yml overrides %d services, want only mongo", len(override.Services))
	}
	if got := override.Services["mongo"].Ports; len(got) != 1 || got[0].HostIP != "127.0.0.1" || got[0].Target != "27017" {
		t.Errorf("deploy/compose.test.yml mongo ports %+v, want 127.0.0.1:27017:27017", got)
	}
}

func TestComposeMongoReplicaSet(t *testing.T) {
	c, _ := loadCompose(t, "docker-compose.yml")
	m := c.Services["mongo"]
	cmd := strings.Join(m.Command, " ")
	for _, want := range []string{"--replSet rs0", "--keyFile /keyfile/keyfile"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("mongo command %q lacks %q", cmd, want)
		}
	}
	for _, k := range []string{"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"} {
		if v := m.Environment[k]; !strings.HasPrefix(v, "${") {
			t.Errorf("mongo %s = %q, want it from .env", k, v)
		}
	}
	if got := m.DependsOn["mongo-keyfile"].Condition; got != "service_completed_successfully" {
		t.Errorf("mongo depends_on mongo-keyfile: %q, want service_completed_successfully", got)
	}
	keyfile := strings.Join(c.Services["mongo-keyfile"].Command, " ")
	for _, want := range []string{"chown 999:999", "chmod 400", "/dev/urandom"} {
		if !strings.Contains(keyfile, want) {
			t.Errorf("mongo-keyfile command lacks %q", want)
		}
	}
	health := strings.Join(m.Healthcheck.Test, " ")
	if !strings.Contains(health, "/scripts/rs-health.js") {
		t.Errorf("mongo healthcheck %q does not run /scripts/rs-health.js", health)
	}
	script := string(readFile(t, "deploy", "mongo", "rs-health.js"))
	for _, want := range []string{"rs.initiate(", "rs.status()", "NotYetInitialized", "quit(1)"} {
		if !strings.Contains(script, want) {
			t.Errorf("deploy/mongo/rs-health.js lacks %q", want)
		}
	}
}

func TestComposeMinIOInit(t *testing.T) {
	script := string(readFile(t, "deploy", "minio", "init.sh"))
	for _, want := range []string{
		`mc mb --ignore-existing`,
		`mc anonymous set none`,
		`mc admin policy create`,
		`mc admin user add`,
		`mc admin policy attach`,
		`"arn:aws:s3:::$MINIO_BUCKET"`,
		`"arn:aws:s3:::$MINIO_BUCKET/*"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("deploy/minio/init.sh lacks %s", want)
		}
	}
	// The policy names the one bucket, never every bucket or an admin action.
	for _, bad := range []string{`arn:aws:s3:::*`, `"s3:*"`, `admin:`, `s3:CreateBucket`, `s3:DeleteBucket`} {
		if strings.Contains(script, bad) {
			t.Errorf("deploy/minio/init.sh grants %s; the policy must cover the photo bucket only", bad)
		}
	}
}

// Every file a service bind-mounts from the repository exists, and every
// named volume is declared.
func TestComposeVolumes(t *testing.T) {
	c, _ := loadCompose(t, "docker-compose.yml")
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			switch {
			case strings.HasPrefix(src, "./"):
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			case strings.HasPrefix(src, "/"):
				t.Errorf("service %s mounts the host path %s; use a named volume", name, src)
			default:
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("service %s uses volume %s, not declared under volumes:", name, src)
				}
			}
		}
	}
}

// --- .env.example ---

func readEnvExample(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, ".env.example")))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(k) {
			t.Errorf(".env.example:%d: %q is not KEY=VALUE", n, line)
			continue
		}
		env[k] = v
	}
	return env
}

// composeVariables returns the variables a compose file interpolates
// (${VAR}, ${VAR:-default}, ${VAR:?message}, $VAR; $$ is a literal $).
func composeVariables(raw []byte) map[string]bool {
	vars := map[string]bool{}
	s := string(raw)
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			i++
			continue
		}
		rest := s[i+1:]
		rest = strings.TrimPrefix(rest, "{")
		m := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`).FindString(rest)
		if m != "" {
			vars[m] = true
		}
	}
	return vars
}

func TestEnvExample(t *testing.T) {
	env := readEnvExample(t)
	_, raw := loadCompose(t, "docker-compose.yml")
	used := composeVariables(raw)
	if len(used) == 0 {
		t.Fatal("docker-compose.yml interpolates no variable; the credentials must come from .env")
	}
	for v := range used {
		if _, ok := env[v]; !ok {
			t.Errorf("docker-compose.yml reads ${%s}, missing from .env.example", v)
		}
	}
	for k := range env {
		if !used[k] {
			t.Errorf(".env.example sets %s, which docker-compose.yml never reads", k)
		}
	}
	// Placeholders, never the well-known defaults of the images.
	wellKnown := []string{"minioadmin", "admin", "root", "password", "example", "secret", "changeme", "mongo"}
	for k, v := range env {
		secret := strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") ||
			strings.HasSuffix(k, "_USER") || strings.HasSuffix(k, "_USERNAME") || strings.HasSuffix(k, "ACCESS_KEY")
		if !secret {
			continue
		}
		if slices.Contains(wellKnown, strings.ToLower(v)) {
			t.Errorf(".env.example %s=%s: a well-known default; want a placeholder to change", k, v)
		}
		if v == "" && k != "PAIRSYNC_ADMIN_PASSWORD" {
			t.Errorf(".env.example %s is empty", k)
		}
		if (strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET")) && v != "" && !strings.Contains(v, "CHANGE-ME") {
			t.Errorf(".env.example %s=%s: want a placeholder saying CHANGE-ME", k, v)
		}
	}
	// They go into a mongodb:// URI unescaped.
	for _, k := range []string{"MONGO_APP_USERNAME", "MONGO_APP_PASSWORD"} {
		if !regexp.MustCompile(`^[A-Za-z0-9-]+$`).MatchString(env[k]) {
			t.Errorf(".env.example %s=%q: want letters, digits and '-' only", k, env[k])
		}
	}
	if n := len(env["MINIO_APP_SECRET_KEY"]); n < 8 {
		t.Errorf("MINIO_APP_SECRET_KEY placeholder has %d characters; MinIO wants at least 8", n)
	}
}

// --- deploy/Dockerfile ---

type instruction struct {
	cmd, args string
	line      int
}

// parseDockerfile returns the instructions of a Dockerfile: comments dropped,
// continuation lines joined.
func parseDockerfile(t *testing.T, raw []byte) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	start := 0
	for n, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			if trimmed == "" {
				continue
			}
			start = n + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Errorf("Dockerfile ends inside a continued line")
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, readFile(t, "deploy", "Dockerfile"))
	var stages [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("line %d: %s before FROM", in.line, in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a builder and a final stage", len(stages))
	}
	from := strings.Fields(stages[0][0].args)
	if len(from) != 3 || from[0] != "golang:1.26" || !strings.EqualFold(from[1], "AS") {
		t.Errorf("first stage FROM %q, want golang:1.26 AS <name>", stages[0][0].args)
	}
	final := stages[len(stages)-1]
	base := strings.Fields(final[0].args)[0]
	if base != "scratch" && !strings.Contains(base, "distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless static", base)
	}

	build := ""
	for _, st := range stages[:len(stages)-1] {
		for _, in := range st {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				build = in.args
			}
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w`, "./server/cmd/pairsyncd", "--mount=type=cache,target=/go/pkg/mod"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build RUN %q lacks %q", build, want)
		}
	}

	known := knownSettings(t)
	var user, expose, entrypoint, health string
	env := map[string]string{}
	copies := ""
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "EXPOSE":
			expose = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "HEALTHCHECK":
			health = in.args
		case "COPY":
			copies += in.args + "\n"
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if n, err := strconv.Atoi(uid); err == nil && n != 65532 {
		t.Errorf("final stage USER %s, want 65532 (the user /etc/passwd names)", uid)
	}
	if expose != "8080" {
		t.Errorf("EXPOSE %q, want 8080", expose)
	}
	if env["PAIRSYNC_ADDR"] != "0.0.0.0:8080" {
		t.Errorf("ENV PAIRSYNC_ADDR=%q, want 0.0.0.0:8080 (a container must listen on every interface)", env["PAIRSYNC_ADDR"])
	}
	for k := range env {
		if strings.HasPrefix(k, "PAIRSYNC_") && !known[k] {
			t.Errorf("ENV %s: not a setting pairsyncd knows", k)
		}
	}
	if entrypoint != `["/pairsyncd"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/pairsyncd\"]", entrypoint)
	}
	// Without a shell in the image, only the exec form can run.
	if health != "" && !regexp.MustCompile(`CMD \[`).MatchString(health) {
		t.Errorf("HEALTHCHECK %q: want the exec form CMD [...] (the image has no shell)", health)
	}
	if base == "scratch" {
		for _, want := range []string{"ca-certificates.crt", "/etc/", "/tmp/"} {
			if !strings.Contains(copies, want) {
				t.Errorf("scratch image: no COPY of %s", want)
			}
		}
	}

	ignore := string(readFile(t, "deploy", "Dockerfile.dockerignore"))
	for _, want := range []string{".git", ".env", "bin/", "data/"} {
		if !slices.Contains(strings.Split(ignore, "\n"), want) {
			t.Errorf("deploy/Dockerfile.dockerignore does not exclude %s", want)
		}
	}
}

// --- deploy/k8s ---

type k8sDoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	file string
	node *yaml.Node
}

// The kinds these manifests may hold, with their API version.
var apiVersions = map[string]string{
	"Deployment":              "apps/v1",
	"Service":                 "v1",
	"ConfigMap":               "v1",
	"Secret":                  "v1",
	"HorizontalPodAutoscaler": "autoscaling/v2",
	"PodDisruptionBudget":     "policy/v1",
	"NetworkPolicy":           "networking.k8s.io/v1",
	"Kustomization":           "kustomize.config.k8s.io/v1beta1",
}

func loadK8s(t *testing.T) []k8sDoc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/k8s/*.yaml (%v)", err)
	}
	var docs []k8sDoc
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(n.Content) == 0 || n.Content[0].Kind == 0 {
				continue // an empty document
			}
			var d k8sDoc
			if err := n.Decode(&d); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			d.file, d.node = filepath.Base(f), &n
			docs = append(docs, d)
		}
	}
	return docs
}

func decode[T any](t *testing.T, d k8sDoc) T {
	t.Helper()
	var v T
	if err := d.node.Decode(&v); err != nil {
		t.Fatalf("%s %s: %v", d.file, d.Kind, err)
	}
	return v
}

// only returns the one document of a kind.
func only(t *testing.T, docs []k8sDoc, kind string) k8sDoc {
	t.Helper()
	var found []k8sDoc
	for _, d := range docs {
		if d.Kind == kind {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("deploy/k8s holds %d %s, want 1", len(found), kind)
	}
	return found[0]
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

// selects reports whether s selects pods labelled labels.
func (s labelSelector) selects(labels map[string]string) bool {
	if len(s.MatchLabels) == 0 {
		return false
	}
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type deployment struct {
	Spec struct {
		Replicas *int          `yaml:"replicas"`
		Selector labelSelector `yaml:"selector"`
		Strategy struct {
			RollingUpdate struct {
				MaxUnavailable any `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds *int            `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               securityContext `yaml:"securityContext"`
				Containers                    []container     `yaml:"containers"`
				Volumes                       []struct {
					Name     string    `yaml:"name"`
					EmptyDir *struct{} `yaml:"emptyDir"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func TestK8sSchema(t *testing.T) {
	docs := loadK8s(t)
	seen := map[string]bool{}
	for _, d := range docs {
		where := fmt.Sprintf("%s (%s %s)", d.file, d.Kind, d.Metadata.Name)
		if d.APIVersion == "" || d.Kind == "" || d.Metadata.Name == "" {
			t.Errorf("%s: want apiVersion, kind and metadata.name", where)
		}
		if want, ok := apiVersions[d.Kind]; !ok {
			t.Errorf("%s: unexpected kind", where)
		} else if d.APIVersion != want {
			t.Errorf("%s: apiVersion %s, want %s", where, d.APIVersion, want)
		}
		key := d.Kind + "/" + d.Metadata.Name
		if seen[key] {
			t.Errorf("%s: defined twice", where)
		}
		seen[key] = true
	}
	for kind := range apiVersions {
		only(t, docs, kind)
	}
}

// pod returns the Deployment and its one container.
func pod(t *testing.T, docs []k8sDoc) (deployment, container) {
	t.Helper()
	dep := decode[deployment](t, only(t, docs, "Deployment"))
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(cs))
	}
	return dep, cs[0]
}

func TestK8sDeployment(t *testing.T) {
	docs := loadK8s(t)
	dep, c := pod(t, docs)
	spec := dep.Spec.Template.Spec
	if r := dep.Spec.Replicas; r == nil || *r < 2 {
		got := "unset"
		if r != nil {
			got = strconv.Itoa(*r)
		}
		t.Errorf("replicas %s, want at least 2", got)
	}
	if !dep.Spec.Selector.selects(dep.Spec.Template.Metadata.Labels) {
		t.Errorf("selector %v does not select the pod template's labels %v", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels)
	}
	if fmt.Sprint(dep.Spec.Strategy.RollingUpdate.MaxUnavailable) != "0" {
		t.Errorf("rollingUpdate.maxUnavailable %v, want 0 (new pods ready before old ones stop)", dep.Spec.Strategy.RollingUpdate.MaxUnavailable)
	}
	probes := []struct {
		name string
		p    *probe
		path string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"startupProbe", c.StartupProbe, "/healthz"},
	}
	for _, p := range probes {
		if p.p == nil || p.p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", p.name)
			continue
		}
		if p.p.HTTPGet.Path != p.path {
			t.Errorf("%s path %q, want %q", p.name, p.p.HTTPGet.Path, p.path)
		}
		if port := fmt.Sprint(p.p.HTTPGet.Port); port != "http" && port != "8080" {
			t.Errorf("%s port %s, want http or 8080", p.name, port)
		}
	}
	// http on 8080, and the metrics listener (PAIRSYNC_METRICS_ADDR) apart
	// from it on 9090 (never metrics on the public port).
	if len(c.Ports) != 2 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" ||
		c.Ports[1].ContainerPort != 9090 || c.Ports[1].Name != "metrics" {
		t.Errorf("container ports %+v, want http on 8080 and metrics on 9090", c.Ports)
	}
	for _, res := range []string{"cpu", "memory"} {
		if c.Resources.Requests[res] == "" || c.Resources.Limits[res] == "" {
			t.Errorf("resources: %s request %q, limit %q; want both set", res, c.Resources.Requests[res], c.Resources.Limits[res])
		}
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			limit, soft := quantity(t, c.Resources.Limits["memory"]), quantity(t, e.Value)
			if soft >= limit {
				t.Errorf("GOMEMLIMIT %s is not below the memory limit %s", e.Value, c.Resources.Limits["memory"])
			}
		}
	}

	// Each field set on the container, or inherited from the pod.
	pc, cc := spec.SecurityContext, c.SecurityContext
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(cc.RunAsNonRoot) && !isTrue(pc.RunAsNonRoot) {
		t.Errorf("securityContext: runAsNonRoot is not true")
	}
	if u := cmp(cc.RunAsUser, pc.RunAsUser); u != nil && *u == 0 {
		t.Errorf("securityContext: runAsUser 0")
	}
	if !isTrue(cc.ReadOnlyRootFilesystem) {
		t.Errorf("securityContext: readOnlyRootFilesystem is not true")
	}
	if cc.AllowPrivilegeEscalation == nil || *cc.AllowPrivilegeEscalation {
		t.Errorf("securityContext: allowPrivilegeEscalation is not false")
	}
	if !slices.Contains(cc.Capabilities.Drop, "ALL") {
		t.Errorf("securityContext: capabilities.drop %v, want ALL", cc.Capabilities.Drop)
	}
	if cc.SeccompProfile.Type != "RuntimeDefault" && pc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("securityContext: seccompProfile.type is not RuntimeDefault")
	}

	tmp := ""
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" {
			tmp = m.Name
		}
	}
	emptyDir := false
	for _, v := range spec.Volumes {
		emptyDir = emptyDir || (v.Name == tmp && v.EmptyDir != nil)
	}
	if tmp == "" || !emptyDir {
		t.Errorf("no emptyDir mounted at /tmp (the root filesystem is read-only)")
	}

	var cm, secret string
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			cm = e.ConfigMapRef.Name
		}
		if e.SecretRef != nil {
			secret = e.SecretRef.Name
		}
	}
	if got := only(t, docs, "ConfigMap").Metadata.Name; cm != got {
		t.Errorf("envFrom configMapRef %q, want the ConfigMap %q", cm, got)
	}
	if got := only(t, docs, "Secret").Metadata.Name; secret != got {
		t.Errorf("envFrom secretRef %q, want the Secret %q (secret.example.yaml)", secret, got)
	}

	grace := spec.TerminationGracePeriodSeconds
	if grace == nil || *grace != 20 {
		t.Fatalf("terminationGracePeriodSeconds %v, want 20", grace)
	}
	data := configMap(t, docs)
	if data["PAIRSYNC_DRAIN_DELAY"] != "5s" {
		t.Errorf("PAIRSYNC_DRAIN_DELAY %q, want 5s", data["PAIRSYNC_DRAIN_DELAY"])
	}
	drain := mustDuration(t, data["PAIRSYNC_DRAIN_DELAY"], "0s")
	shutdown := mustDuration(t, data["PAIRSYNC_SHUTDOWN_TIMEOUT"], "10s")
	// pairsyncd refuses more than 14s; the kubelet kills at the grace period.
	if drain+shutdown > 14*time.Second || drain+shutdown >= time.Duration(*grace)*time.Second {
		t.Errorf("drain %v + shutdown %v: want at most 14s and under terminationGracePeriodSeconds %d", drain, shutdown, *grace)
	}
}

func cmp[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// quantity parses the memory quantities used here (Mi, Gi, MiB, GiB, bytes).
func quantity(t *testing.T, s string) int64 {
	t.Helper()
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"Gi", 1 << 30}, {"Mi", 1 << 20}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("quantity %q: %v", s, err)
			}
			return v * u.mult
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("quantity %q: %v", s, err)
	}
	return v
}

func configMap(t *testing.T, docs []k8sDoc) map[string]string {
	t.Helper()
	return decode[struct {
		Data map[string]string `yaml:"data"`
	}](t, only(t, docs, "ConfigMap")).Data
}

func TestK8sSettings(t *testing.T) {
	known := knownSettings(t)
	docs := loadK8s(t)
	data := configMap(t, docs)
	for k := range data {
		if !known[k] {
			t.Errorf("ConfigMap sets %s, not a setting pairsyncd knows", k)
		}
		if strings.Contains(k, "PASSWORD") || strings.Contains(k, "KEY") || strings.HasSuffix(k, "_URI") {
			t.Errorf("ConfigMap holds %s, a secret: it belongs in the Secret", k)
		}
	}
	for k, want := range map[string]string{"PAIRSYNC_ADDR": "0.0.0.0:8080", "PAIRSYNC_STORAGE": "mongo", "PAIRSYNC_PHOTOS": "minio"} {
		if data[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, data[k], want)
		}
	}
	secret := decode[struct {
		StringData map[string]string `yaml:"stringData"`
	}](t, only(t, docs, "Secret")).StringData
	for _, k := range []string{"PAIRSYNC_MONGODB_URI", "PAIRSYNC_MINIO_ACCESS_KEY", "PAIRSYNC_MINIO_SECRET_KEY"} {
		if !strings.Contains(secret[k], "CHANGE-ME") {
			t.Errorf("secret.example.yaml %s = %q, want a placeholder saying CHANGE-ME", k, secret[k])
		}
	}
	for k := range secret {
		if !known[k] {
			t.Errorf("secret.example.yaml sets %s, not a setting pairsyncd knows", k)
		}
	}
}

func TestK8sService(t *testing.T) {
	docs := loadK8s(t)
	dep, _ := pod(t, docs)
	labels := dep.Spec.Template.Metadata.Labels
	svc := decode[struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}](t, only(t, docs, "Service"))
	if !(labelSelector{MatchLabels: svc.Spec.Selector}).selects(labels) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, labels)
	}
	for _, p := range svc.Spec.Ports {
		if tp := fmt.Sprint(p.TargetPort); tp != "http" && tp != "8080" {
			t.Errorf("Service targetPort %s, want http or 8080", tp)
		}
	}
}

func TestK8sAvailability(t *testing.T) {
	docs := loadK8s(t)
	dep, _ := pod(t, docs)
	labels := dep.Spec.Template.Metadata.Labels
	depName := only(t, docs, "Deployment").Metadata.Name

	pdb := decode[struct {
		Spec struct {
			MinAvailable any           `yaml:"minAvailable"`
			Selector     labelSelector `yaml:"selector"`
		} `yaml:"spec"`
	}](t, only(t, docs, "PodDisruptionBudget"))
	if fmt.Sprint(pdb.Spec.MinAvailable) != "1" {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}
	if !pdb.Spec.Selector.selects(labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods %v", pdb.Spec.Selector.MatchLabels, labels)
	}

	hpa := decode[struct {
		Spec struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas int `yaml:"minReplicas"`
			MaxReplicas int `yaml:"maxReplicas"`
			Metrics     []struct {
				Type     string `yaml:"type"`
				Resource struct {
					Name   string `yaml:"name"`
					Target struct {
						Type               string `yaml:"type"`
						AverageUtilization int    `yaml:"averageUtilization"`
					} `yaml:"target"`
				} `yaml:"resource"`
			} `yaml:"metrics"`
		} `yaml:"spec"`
	}](t, only(t, docs, "HorizontalPodAutoscaler"))
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != depName || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA scaleTargetRef %+v, want apps/v1 Deployment %s", ref, depName)
	}
	if hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %d..%d, want at least 2 and max ≥ min", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	cpu := false
	for _, m := range hpa.Spec.Metrics {
		cpu = cpu || (m.Type == "Resource" && m.Resource.Name == "cpu" && m.Resource.Target.Type == "Utilization" &&
			m.Resource.Target.AverageUtilization > 0 && m.Resource.Target.AverageUtilization <= 100)
	}
	if !cpu {
		t.Errorf("HPA has no CPU utilization metric")
	}
}

func TestK8sNetworkPolicy(t *testing.T) {
	docs := loadK8s(t)
	dep, _ := pod(t, docs)
	np := decode[struct {
		Spec struct {
			PodSelector labelSelector `yaml:"podSelector"`
			PolicyTypes []string      `yaml:"policyTypes"`
			Ingress     []struct {
				From []struct {
					NamespaceSelector *labelSelector `yaml:"namespaceSelector"`
				} `yaml:"from"`
				Ports []struct {
					Port any `yaml:"port"`
				} `yaml:"ports"`
			} `yaml:"ingress"`
			Egress []struct {
				To []struct {
					NamespaceSelector *labelSelector `yaml:"namespaceSelector"`
				} `yaml:"to"`
				Ports []struct {
					Port any `yaml:"port"`
				} `yaml:"ports"`
			} `yaml:"egress"`
		} `yaml:"spec"`
	}](t, only(t, docs, "NetworkPolicy"))
	if !np.Spec.PodSelector.selects(dep.Spec.Template.Metadata.Labels) {
		t.Errorf("NetworkPolicy podSelector %v does not select the pods", np.Spec.PodSelector.MatchLabels)
	}
	if !slices.Contains(np.Spec.PolicyTypes, "Ingress") || !slices.Contains(np.Spec.PolicyTypes, "Egress") {
		t.Errorf("NetworkPolicy policyTypes %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) == 0 {
		t.Errorf("NetworkPolicy allows no ingress at all")
	}
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 || len(r.Ports) == 0 {
			t.Errorf("ingress rule %d: want both from (the ingress controller's namespace) and ports (8080)", i)
		}
		for _, f := range r.From {
			if f.NamespaceSelector == nil || len(f.NamespaceSelector.MatchLabels) == 0 {
				t.Errorf("ingress rule %d: a peer without a namespaceSelector", i)
			}
		}
		for _, p := range r.Ports {
			if port := fmt.Sprint(p.Port); port != "8080" && port != "http" {
				t.Errorf("ingress rule %d: port %s, want 8080", i, port)
			}
		}
	}
	allowed := map[string]bool{"27017": true, "9000": true, "53": true}
	seen := map[string]bool{}
	for i, r := range np.Spec.Egress {
		if len(r.To) == 0 || len(r.Ports) == 0 {
			t.Errorf("egress rule %d: want both to and ports (an empty one allows everything)", i)
		}
		for _, p := range r.Ports {
			port := fmt.Sprint(p.Port)
			if !allowed[port] {
				t.Errorf("egress rule %d: port %s, want only MongoDB (27017), MinIO (9000) and DNS (53)", i, port)
			}
			seen[port] = true
		}
	}
	for port := range allowed {
		if !seen[port] {
			t.Errorf("NetworkPolicy allows no egress to port %s", port)
		}
	}
}

func TestK8sKustomization(t *testing.T) {
	docs := loadK8s(t)
	k := decode[struct {
		Resources []string `yaml:"resources"`
	}](t, only(t, docs, "Kustomization"))
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[r] = true
		if _, err := os.Stat(filepath.Join(root, "deploy", "k8s", r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	files := map[string]bool{}
	for _, d := range docs {
		files[d.file] = true
	}
	for f := range files {
		switch f {
		case "kustomization.yaml":
		case "secret.example.yaml":
			if listed[f] {
				t.Errorf("kustomization.yaml lists secret.example.yaml: its placeholders would be applied")
			}
		default:
			if !listed[f] {
				t.Errorf("kustomization.yaml does not list %s", f)
			}
		}
	}
}
