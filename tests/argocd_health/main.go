// Command argocd-health runs an Argo CD custom health check (a Lua script) on one Kubernetes
// object the way Argo CD's application controller does, and prints the outcome as JSON:
//
//	argocd-health -script examples/argocd/health/ScalingPolicy.lua policy.json
//	kubectl get sp web -n demo -o json | argocd-health -argocd-cm examples/argocd/argocd-cm.yaml
//
// It follows Argo CD's util/lua (v3.6): gopher-lua, the interpreter Argo CD embeds, with only the
// package, base and table libraries and the safe part of os (time, date) opened unless the
// ConfigMap sets useOpenLibs; the object as the global `obj`; one second to run; the returned
// table's status and message read back, and a status outside Argo CD's list turned into Unknown.
// What Argo CD does around the script is not repeated here: an object being deleted shows as
// Progressing there whatever its script says.
//
// Output: {"status": ..., "message": ...}, or null when the script returns nil (Argo CD then has
// no health for the object). Exit status 1 on any error (the script's, or reading the input), and
// 3 when the script returned a status Argo CD does not know: Argo CD shows Unknown then, and a
// health check that does so is broken.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
	"sigs.k8s.io/yaml"
)

const (
	healthKeyPrefix   = "resource.customizations.health."
	openLibsKeyPrefix = "resource.customizations.useOpenLibs."
	// Argo CD's own words for a status it does not know, and for a returned value that is no table.
	invalidHealthStatus = "Lua returned an invalid health status"
	incorrectReturnType = "expect table output from Lua script, not %s"
	scriptTimeout       = time.Second
	exitInvalidStatus   = 3
)

var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// health is Argo CD's HealthStatus, printed with both fields even when empty.
type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// configMap is the part of argocd-cm that holds health checks.
type configMap struct {
	Data map[string]string `json:"data"`
}

func main() {
	scriptPath := flag.String("script", "", "the Lua health script")
	configPath := flag.String("argocd-cm", "", "an argocd-cm ConfigMap (YAML): the script is the one for the object's kind")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: argocd-health (-script FILE | -argocd-cm FILE) [OBJECT.json|OBJECT.yaml|-]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if (*scriptPath == "") == (*configPath == "") || flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	result, err := run(*scriptPath, *configPath, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
	out, err := json.Marshal(result)
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
	if result != nil && result.Status == "Unknown" && result.Message == invalidHealthStatus {
		fmt.Fprintln(os.Stderr, "argocd-health: the script returned a status Argo CD does not know")
		os.Exit(exitInvalidStatus)
	}
}

func run(scriptPath, configPath, objectPath string) (*health, error) {
	obj, err := readObject(objectPath)
	if err != nil {
		return nil, err
	}
	var script string
	openLibs := false
	if scriptPath != "" {
		raw, err := os.ReadFile(scriptPath)
		if err != nil {
			return nil, err
		}
		script = string(raw)
	} else {
		script, openLibs, err = scriptFromConfigMap(configPath, obj)
		if err != nil {
			return nil, err
		}
	}
	return executeHealthLua(obj, script, openLibs)
}

func readObject(path string) (map[string]any, error) {
	var raw []byte
	var err error
	if path == "" || path == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	// JSON is YAML: one conversion reads both, as kubectl does.
	asJSON, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("the object is neither JSON nor YAML: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(asJSON, &obj); err != nil || obj == nil {
		return nil, errors.New("the object is not a JSON or YAML mapping")
	}
	return obj, nil
}

// scriptFromConfigMap finds the object's health check as Argo CD does: under the key of its group
// and kind, `group_Kind` (just `Kind` for the core group).
func scriptFromConfigMap(path string, obj map[string]any) (string, bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	var cm configMap
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		return "", false, fmt.Errorf("%s: %w", path, err)
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	groupKind := kind
	if group, _, found := strings.Cut(apiVersion, "/"); found && group != "" {
		groupKind = group + "_" + kind
	}
	script := cm.Data[healthKeyPrefix+groupKind]
	if script == "" {
		return "", false, fmt.Errorf("%s has no %s%s", path, healthKeyPrefix, groupKind)
	}
	return script, cm.Data[openLibsKeyPrefix+groupKind] == "true", nil
}

func executeHealthLua(obj map[string]any, script string, openLibs bool) (*health, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	openSafeOs(l, openLibs)
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj))
	if err := l.DoString(script); err != nil {
		// Argo CD shows a failed script without gopher-lua's stack trace.
		var apiErr *lua.ApiError
		if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
			apiErr.StackTrace = ""
		}
		return nil, err
	}
	returned := l.Get(-1)
	switch returned.Type() {
	case lua.LTNil:
		return nil, nil
	case lua.LTTable:
		return healthFrom(returned.(*lua.LTable))
	default:
		return nil, fmt.Errorf(incorrectReturnType, returned.Type().String())
	}
}

// openSafeOs gives scripts os.time and os.date only, as Argo CD does (its safe os library is a copy
// of gopher-lua's two functions); with useOpenLibs the whole os library is already open.
func openSafeOs(l *lua.LState, openLibs bool) {
	if openLibs {
		return
	}
	scratch := lua.NewState()
	defer scratch.Close()
	full := scratch.GetGlobal(lua.OsLibName).(*lua.LTable)
	safe := l.NewTable()
	for _, name := range []string{"time", "date"} {
		fn := full.RawGetString(name).(*lua.LFunction)
		safe.RawSetString(name, l.NewFunction(fn.GFunction))
	}
	l.SetGlobal(lua.OsLibName, safe)
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(safe)
		return 1
	})
}

// healthFrom reads the returned table as Argo CD does: encoded to JSON by gopher-json and decoded
// into a HealthStatus, where a value of the wrong type (an array, a number for status) gives an
// empty status, and a status outside Argo CD's list gives Unknown.
func healthFrom(table *lua.LTable) (*health, error) {
	encoded, err := luajson.Encode(table)
	if err != nil {
		return nil, err
	}
	decoded := &health{}
	if err := json.Unmarshal(encoded, decoded); err != nil {
		var typeError *json.UnmarshalTypeError
		if errors.As(err, &typeError) {
			return &health{}, nil
		}
		return nil, err
	}
	if !validStatuses[decoded.Status] {
		return &health{Status: "Unknown", Message: invalidHealthStatus}, nil
	}
	return decoded, nil
}

// decodeValue is Argo CD's conversion of an object into Lua values.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}
