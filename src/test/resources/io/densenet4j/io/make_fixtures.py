#!/usr/bin/python3
"""Small fixtures for the io.densenet4j.io tests (PthReader, SafeTensors, StateDicts).

Made with Debian's python3-torch 1.13 (run with /usr/bin/python3; the pyenv python3
first on PATH has no torch). Re-run from anywhere:

    /usr/bin/python3 make_fixtures.py [GOLDEN_DIR]

GOLDEN_DIR defaults to the project's ../shared/golden. Writes next to this script:

  odd-k5-legacy.pth       odd-k5's state_dict, legacy non-zip layout
                          (_use_new_zipfile_serialization=False)
  wrapped-module.pth      {'state_dict': part of odd-k5 with DataParallel 'module.' prefixes
                          and torchvision's legacy 'norm.1' names, 'epoch': 3} (zip)
  views.pth               views (transposed, sliced, shared storage) and every storage
                          dtype (zip); views-legacy.pth the same in the legacy layout
  torchvision-2017.pth    what torchvision's original DenseNet downloads look like: legacy layout,
                          torch._utils._rebuild_tensor (v1), OrderedDict([[k, v], ...]) as Python 2
                          pickles it, 'norm.1'-style names, no num_batches_tracked (part of odd-k5)
  torchscript.pt          torch.jit.script(nn.Linear(2, 2)).save(...): must be refused
  evil-os-system.pth      zip whose data.pkl calls os.system (GLOBAL, protocol 2)
  evil-eval-proto4.pth    zip whose data.pkl calls builtins.eval (STACK_GLOBAL, protocol 4)
  evil-legacy.pth         legacy layout whose object pickle calls os.system
  evil-getattr.pth        zip whose data.pkl uses __builtin__.getattr via INST

Every malicious pickle, if ever executed, would create MARKER; the tests assert it
never appears. This script never unpickles them.
"""
import collections, io, os, pickle, struct, sys, zipfile
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
GOLDEN = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[6] / "shared" / "golden"
MARKER = "/tmp/densenet4j-pickle-exploit-marker"


def odd_k5():
    return torch.load(GOLDEN / "odd-k5.pth", map_location="cpu")


def legacy(sd, path):
    torch.save(sd, path, _use_new_zipfile_serialization=False)


def old_names(k):
    """torchvision's old names: denselayerN.norm.1.weight instead of denselayerN.norm1.weight."""
    for part in ("norm1", "norm2", "conv1", "conv2"):
        k = k.replace("." + part + ".", "." + part[:-1] + "." + part[-1] + ".")
    return k


def wrapped_module():
    sd = odd_k5()
    out = collections.OrderedDict()
    for k, v in sd.items():
        if not (k.startswith("features.conv0") or k.startswith("features.norm0")
                or k.startswith("features.denseblock1.denselayer1.") or k.startswith("classifier")):
            continue
        if "denselayer" in k and k.endswith("num_batches_tracked"):
            continue    # old checkpoints predate num_batches_tracked (torchvision's rename leaves it alone)
        out["module." + old_names(k)] = v
    out._metadata = collections.OrderedDict({"": {"version": 1}})
    torch.save({"state_dict": out, "epoch": 3}, HERE / "wrapped-module.pth")


def torchvision_2017():
    sd = odd_k5()
    keep = [k for k in sd if not k.endswith("num_batches_tracked")
            and (k.startswith("features.denseblock1.denselayer2.") or k.startswith("features.norm5"))]

    class Storage:
        def __init__(self, key, t):
            self.key, self.t = key, t

    class Rebuild:
        def __init__(self, storage, t):
            self.storage, self.t = storage, t
        def __reduce__(self):
            return (torch._utils._rebuild_tensor,
                    (self.storage, 0, tuple(self.t.shape), tuple(self.t.stride())))

    class OldOrderedDict:
        def __init__(self, items):
            self.items = items
        def __reduce__(self):
            return (collections.OrderedDict, ([[k, v] for k, v in self.items],))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.t.numel(), None)
            return None

    storages, items = [], []
    for i, k in enumerate(keep):
        st = Storage(str(140000000 + i), sd[k].contiguous())
        storages.append(st)
        items.append((old_names(k), Rebuild(st, sd[k])))
    buf = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, buf, protocol=2)
    pickle.dump(1001, buf, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 8}}, buf, protocol=2)
    Pickler(buf, protocol=2).dump(OldOrderedDict(items))
    storages.sort(key=lambda s: s.key)
    pickle.dump([s.key for s in storages], buf, protocol=2)
    for s in storages:
        buf.write(struct.pack("<q", s.t.numel()))
        buf.write(s.t.numpy().astype("<f4").tobytes())
    path = HERE / "torchvision-2017.pth"
    path.write_bytes(buf.getvalue())
    back = torch.load(path)                      # torch itself must read it
    assert list(back) == [old_names(k) for k in keep]
    assert all(torch.equal(back[old_names(k)], sd[k]) for k in keep)


def views():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3.0
    d = collections.OrderedDict()
    d["transposed"] = base.t()                     # (6,4), stride (1,6)
    d["sliced"] = base[1:, ::2]                    # (3,3), offset 6, stride (6,2)
    d["base"] = base                               # shares storage with the two above
    d["row"] = base[2]                             # (6,), offset 12
    d["empty"] = torch.zeros(0, 3)
    d["scalar"] = torch.tensor(2.5)
    d["f16"] = torch.tensor([1.0, -2.5, 65504.0, 0.0009765625], dtype=torch.float16)
    d["bf16"] = torch.tensor([1.0, -2.5, 3.0e38, 0.0078125], dtype=torch.bfloat16)
    d["f64"] = torch.tensor([[1.5, -1e-3], [1e30, 7.0]], dtype=torch.float64).t()
    d["i64"] = torch.tensor([-(2 ** 40), 7], dtype=torch.int64)
    d["i32"] = torch.tensor([-5, 2 ** 31 - 1], dtype=torch.int32)
    d["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    d["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    d["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["answer"] = 42                               # not a tensor: ignored by the reader
    torch.save(d, HERE / "views.pth")
    legacy(d, HERE / "views-legacy.pth")


def torchscript():
    torch.manual_seed(0)
    torch.jit.script(nn.Linear(2, 2)).save(str(HERE / "torchscript.pt"))


def evil_zip(path, pkl, prefix):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in ((prefix + "/data.pkl", pkl), (prefix + "/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)   # reproducible bytes


def evil():
    cmd = ("touch " + MARKER).encode()
    # protocol 2, GLOBAL 'os system', REDUCE: exactly what os.system.__reduce__ tricks produce
    os_system = (b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(cmd)) + cmd
                 + b"q\x01\x85q\x02Rq\x03.")
    evil_zip(HERE / "evil-os-system.pth", os_system, "evil-os-system")

    class Eval:
        def __reduce__(self):
            return (eval, ("__import__('os').system(%r)" % ("touch " + MARKER),))
    evil_zip(HERE / "evil-eval-proto4.pth", pickle.dumps(Eval(), protocol=4), "evil-eval-proto4")

    # protocol 0 INST opcode: (  S'os' S'system' i__builtin__\ngetattr\n  -> getattr('os', 'system')
    inst = b"(S'os'\nS'system'\ni__builtin__\ngetattr\n."
    evil_zip(HERE / "evil-getattr.pth", inst, "evil-getattr")

    buf = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, buf, protocol=2)
    pickle.dump(1001, buf, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, buf, protocol=2)
    buf.write(os_system)
    pickle.dump([], buf, protocol=2)
    (HERE / "evil-legacy.pth").write_bytes(buf.getvalue())


if __name__ == "__main__":
    legacy(odd_k5(), HERE / "odd-k5-legacy.pth")
    wrapped_module()
    torchvision_2017()
    views()
    torchscript()
    evil()
    for p in sorted(HERE.iterdir()):
        if p.suffix in (".pth", ".pt"):
            print("%8d  %s" % (p.stat().st_size, p.name))
