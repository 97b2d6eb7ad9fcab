#!/usr/bin/env python3
"""One flag language (SPEC §6): a flag means the same in every command.
-o/--output is always the output format, --output-file a path, -f an input;
enum values take any case; -ojson and --output=json work as in kubectl; a
command refuses the flags it does not use."""
import json
import os
import subprocess
import tempfile
import unittest

BIN = os.path.abspath(os.environ.get("PROFILEGUARD", "build/src/cmd/profileguard"))
WRAPPER = os.environ.get("PG_TEST_WRAPPER", "").split()

POD = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers:
    - name: c
      image: registry.example.com/shop/web:1.0
"""
PROFILE = """apiVersion: profileguard.io/v1alpha1
kind: WorkloadProfile
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  mode: Enforce
  images: {allow: ["registry.example.com/*"]}
"""
EVENT = json.dumps({"kind": "exec", "time": "2026-11-22T11:00:00Z", "node": "node-a",
                    "pod": {"namespace": "shop", "name": "web"}, "container": "c", "exe": "/app/server"})


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILEGUARD_")}
    env.update(extra)
    return env


class Flags(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.pod = self.path("pod.yaml", POD)
        self.profile = self.path("profile.yaml", PROFILE)
        self.events = self.path("events.jsonl", EVENT + "\n")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def run_pg(self, *args, env=None):
        # in the temporary directory, so that a file written by mistake is seen
        p = subprocess.run([*WRAPPER, BIN, *args], capture_output=True, text=True, cwd=self.dir,
                           env=env or clean_env(), timeout=600 if WRAPPER else 60)
        return p.returncode, p.stdout, p.stderr

    def learn(self, *extra, env=None):
        return self.run_pg("learn", "-f", self.events, "--pod", self.pod, "--name", "web",
                           "--namespace", "shop", *extra, env=env)

    def test_learn_output_is_a_format(self):
        rc, yaml_out, err = self.learn()
        self.assertEqual(rc, 0, err)
        self.assertIn("kind: WorkloadProfile", yaml_out)
        self.assertIn("/app/server", yaml_out)
        for args in (["-o", "yaml"], ["-oyaml"], ["--output=yaml"], ["--output", "YAML"]):
            rc, out, err = self.learn(*args)
            self.assertEqual((rc, out), (0, yaml_out), (args, err))
        for args in (["-o", "json"], ["-ojson"], ["--output=json"], ["-o", "JSON"], ["--output", "Json"]):
            rc, out, err = self.learn(*args)
            self.assertEqual(rc, 0, (args, err))
            doc = json.loads(out)
            self.assertEqual(doc["kind"], "WorkloadProfile", args)
            self.assertEqual(doc["metadata"], {"name": "web", "namespace": "shop"})
            self.assertEqual(doc["spec"]["runtime"]["executables"], ["/app/server"])
        # the JSON is the YAML profile, and check takes it as a profile
        prof = self.path("learned.json", out)
        rc, out, err = self.run_pg("check", "-p", prof, "-f", self.pod)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(sorted(os.listdir(self.dir)), ["events.jsonl", "learned.json", "pod.yaml", "profile.yaml"])

    def test_learn_output_file(self):
        rc, yaml_out, err = self.learn()
        self.assertEqual(rc, 0, err)
        dst = os.path.join(self.dir, "out.yaml")
        rc, out, err = self.learn("--output-file", dst)
        self.assertEqual((rc, out), (0, ""), err)
        with open(dst) as f:
            self.assertEqual(f.read(), yaml_out)
        dst = os.path.join(self.dir, "out.json")
        rc, out, err = self.learn("-o", "json", "--output-file=" + dst)
        self.assertEqual((rc, out), (0, ""), err)
        with open(dst) as f:
            self.assertEqual(json.load(f)["kind"], "WorkloadProfile")

    def test_learn_o_is_not_a_path(self):
        # -o used to be the output file: a path is now a usage error that
        # names --output-file, and no file is written.
        rc, out, err = self.learn("-o", "profile.yaml")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("-o/--output must be", err)
        self.assertIn("--output-file", err)
        self.assertEqual(sorted(os.listdir(self.dir)), ["events.jsonl", "pod.yaml", "profile.yaml"])

    def test_output_env_means_the_same_everywhere(self):
        # exported for check, PROFILEGUARD_OUTPUT=json made learn write a
        # file named "json"
        env = clean_env(PROFILEGUARD_OUTPUT="json")
        rc, out, err = self.run_pg("check", "-p", self.profile, "-f", self.pod, env=env)
        self.assertEqual(rc, 0, err)
        json.loads(out)
        rc, out, err = self.learn(env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["kind"], "WorkloadProfile")
        self.assertEqual(sorted(os.listdir(self.dir)), ["events.jsonl", "pod.yaml", "profile.yaml"])
        # the command line wins over the environment
        rc, out, err = self.learn("-o", "yaml", env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("kind: WorkloadProfile", out)
        # an output file from the environment
        dst = os.path.join(self.dir, "env.yaml")
        rc, out, err = self.learn(env=clean_env(PROFILEGUARD_OUTPUT_FILE=dst))
        self.assertEqual((rc, out), (0, ""), err)
        self.assertTrue(os.path.exists(dst))

    def test_enum_values_take_any_case(self):
        rc, out, err = self.learn("--mode", "enforce")
        self.assertEqual(rc, 0, err)
        self.assertIn("mode: Enforce", out)
        rc, out, err = self.learn("--mode=AUDIT", "--log-level", "DEBUG", "--log-format", "Text")
        self.assertEqual(rc, 0, err)
        self.assertIn("mode: Audit", out)
        rc, out, err = self.learn("--format", "NATIVE")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.learn(env=clean_env(PROFILEGUARD_MODE="ENFORCE"))
        self.assertEqual(rc, 0, err)
        self.assertIn("mode: Enforce", out)
        rc, out, err = self.learn("--mode", "Enforcing")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("--mode must be Audit or Enforce", err)
        for args in (["-o", "JSON"], ["-oJSON"], ["--output=Json"], ["--events-format", "Native", "-o", "json"]):
            rc, out, err = self.run_pg("check", "-p", self.profile, "-f", self.pod, *args)
            self.assertEqual(rc, 0, (args, err))
            self.assertIsInstance(json.loads(out), (list, dict), args)
        rc, out, err = self.run_pg("check", "-p", self.profile, "-f", self.pod, "-o", "xml")
        self.assertEqual(rc, 2, err)
        self.assertIn("-o/--output must be text or json", err)

    def test_flags_after_operands(self):
        # as kubectl and GNU tools: operands and flags in any order, in order
        rc, out, err = self.run_pg("check", self.pod, "-p", self.profile, "-ojson")
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["name"] for r in json.loads(out)["results"]], ["web"])
        # "--" ends the flags: what follows is an operand even if it looks like one
        rc, out, err = self.run_pg("check", "-p", self.profile, "--", "-ojson")
        self.assertEqual(rc, 2)
        self.assertIn("-ojson: No such file or directory", err)

    def test_short_value_attached(self):
        rc, out, err = self.run_pg("check", "-p" + self.profile, "-f" + self.pod, "-ojson")
        self.assertEqual(rc, 0, err)
        json.loads(out)

    def test_unused_flags_are_refused(self):
        kc = self.path("kubeconfig", "apiVersion: v1\nkind: Config\n")
        cases = (["check", "-p", self.profile, "-f", self.pod, "--kubeconfig", kc],
                 ["check", "-p", self.profile, "-f", self.pod, "--metrics-addr", "127.0.0.1:0"],
                 ["learn", "-f", self.events, "--pod", self.pod, "--name", "web", "--namespace", "shop",
                  "--kubeconfig", kc],
                 ["learn", "-f", self.events, "--pod", self.pod, "--name", "web", "--namespace", "shop",
                  "--metrics-addr=127.0.0.1:0"],
                 ["agent", "--once", "--kubeconfig", kc])
        for args in cases:
            rc, out, err = self.run_pg(*args)
            self.assertEqual((rc, out), (2, ""), (args, err))
            flag = [a for a in args if a.startswith("--kubeconfig") or a.startswith("--metrics-addr")][0]
            self.assertIn(f"unknown flag {flag}", err, args)
            self.assertIn(f"see profileguard {args[0]} --help", err, args)

    def test_help_lists_every_template_kind(self):
        rc, out, err = self.run_pg("help", "check")
        self.assertEqual(rc, 0, err)
        text = " ".join(out.split())
        for kind in ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
                     "ReplicationController"):
            self.assertRegex(text, rf"\b{kind}\b", kind)
        # and the flags each command takes, with their choices
        self.assertIn("-o, --output text|json", out)
        self.assertNotIn("--kubeconfig", out)
        rc, out, err = self.run_pg("help", "learn")
        self.assertEqual(rc, 0, err)
        self.assertIn("-o, --output yaml|json", out)
        self.assertIn("--output-file PATH", out)
        self.assertNotIn("--kubeconfig", out)
        self.assertNotIn("--metrics-addr", out)
        rc, out, err = self.run_pg("help", "agent")
        self.assertEqual(rc, 0, err)
        self.assertIn("--metrics-addr", out)
        self.assertNotIn("--kubeconfig", out)
        for cmd in ("webhook", "controller"):
            rc, out, err = self.run_pg("help", cmd)
            self.assertEqual(rc, 0, err)
            self.assertIn("--kubeconfig", out)
            self.assertIn("--metrics-addr", out)

    def test_unknown_flag_suggests_the_near_one(self):
        rc, out, err = self.learn("--ouput", "json")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("unknown flag --ouput, did you mean --output? (see profileguard learn --help)", err)
        rc, out, err = self.run_pg("check", "-p", self.profile, "-f", self.pod, "--profile=x")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("unknown flag --profile=x, did you mean --profiles?", err)
        # nothing near: no guess
        rc, out, err = self.run_pg("check", "-p", self.profile, "-f", self.pod, "--kubeconfig", "x")
        self.assertEqual(rc, 2, err)
        self.assertNotIn("did you mean", err)

    def test_attached_value_is_not_a_bool_flag(self):
        # -h takes no value; a short flag with no value refuses one glued on
        rc, out, err = self.run_pg("check", "-hx")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("unknown flag -hx", err)


if __name__ == "__main__":
    unittest.main()
