package io.densenet4j.io;

import io.densenet4j.io.PickledTensors.StorageRef;
import io.densenet4j.io.PickledTensors.TensorRef;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;

import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Internal: a Pyrolite unpickler restricted to what a PyTorch state_dict needs.
 *
 * <p>Pyrolite resolves globals from one static, process-wide registry and turns every unknown
 * global into a {@code ClassDict} silently (and knows {@code datetime}, {@code array},
 * {@code copy_reg._reconstructor}, ... by default). This class never consults that registry:
 * it intercepts the opcodes that name a global (GLOBAL, STACK_GLOBAL, INST) and resolves them
 * against its own allow-list, refusing anything else before any object is built. It also
 * keeps dicts in insertion order (Pyrolite uses HashMap), ignores BUILD state on dicts and
 * tensors (OrderedDict's {@code _metadata}), and checks the length of every length-prefixed
 * opcode against the bytes left, so a corrupt length cannot trigger a huge allocation.
 */
final class TorchUnpickler extends Unpickler {
    private static final Map<String, IObjectConstructor> ALLOWED = allowed();

    private final Function<StorageRef, StorageRef> storages;

    /**
     * @param storages called for every persistent storage id (may check and record it);
     *                 {@code null} for pickles that must not hold any
     */
    TorchUnpickler(Function<StorageRef, StorageRef> storages) {
        this.storages = storages;
    }

    private static Map<String, IObjectConstructor> allowed() {
        Map<String, IObjectConstructor> m = new HashMap<>();
        m.put("collections.OrderedDict", args -> {
            Map<Object, Object> d = new LinkedHashMap<>();
            if (args.length > 0 && args[0] instanceof List<?> items) {   // Python 2: OrderedDict([[k, v], ...])
                for (Object item : items) {
                    Object[] kv = item instanceof List<?> l ? l.toArray() : item instanceof Object[] a ? a : null;
                    if (kv == null || kv.length != 2) throw new FormatError("OrderedDict item is not a (key, value) pair");
                    d.put(kv[0], kv[1]);
                }
            }
            return d;
        });
        IObjectConstructor rebuild = TorchUnpickler::rebuildTensor;
        m.put("torch._utils._rebuild_tensor_v2", rebuild);
        m.put("torch._utils._rebuild_tensor", rebuild);
        IObjectConstructor parameter = args -> {
            if (args.length < 1 || !(args[0] instanceof TensorRef)) throw new FormatError("_rebuild_parameter without a tensor");
            return args[0];
        };
        m.put("torch._utils._rebuild_parameter", parameter);
        m.put("torch._utils._rebuild_parameter_with_state", parameter);
        storage(m, "torch.FloatStorage", ElementType.F32);
        storage(m, "torch.DoubleStorage", ElementType.F64);
        storage(m, "torch.HalfStorage", ElementType.F16);
        storage(m, "torch.BFloat16Storage", ElementType.BF16);
        storage(m, "torch.LongStorage", ElementType.I64);
        storage(m, "torch.IntStorage", ElementType.I32);
        storage(m, "torch.ShortStorage", ElementType.I16);
        storage(m, "torch.CharStorage", ElementType.I8);
        storage(m, "torch.ByteStorage", ElementType.U8);
        storage(m, "torch.BoolStorage", ElementType.BOOL);
        storage(m, "torch.UntypedStorage", ElementType.U8);
        storage(m, "torch.storage.UntypedStorage", ElementType.U8);
        return Map.copyOf(m);
    }

    /** The global a storage type is pickled as; only a persistent id may use it. */
    record StorageClass(String name, ElementType type) implements IObjectConstructor {
        @Override
        public Object construct(Object[] args) {
            throw new FormatError("the pickle calls " + name + " directly, which a state_dict never does");
        }
    }

    private static void storage(Map<String, IObjectConstructor> m, String name, ElementType t) {
        m.put(name, new StorageClass(name, t));
    }

    private static Object rebuildTensor(Object[] args) {
        if (args.length < 4) throw new FormatError("_rebuild_tensor with " + args.length + " arguments (needs 4 or more)");
        if (!(args[0] instanceof StorageRef s)) {
            throw new FormatError("_rebuild_tensor on " + PickledTensors.describe(args[0]) + ", not a storage");
        }
        long offset = PickledTensors.toLong(args[1], "storage offset");
        long[] size = PickledTensors.toLongs(args[2], "tensor size");
        long[] stride = PickledTensors.toLongs(args[3], "tensor stride");
        return new TensorRef(s, offset, size, stride);
    }

    private IObjectConstructor resolve(String module, String name) {
        IObjectConstructor c = ALLOWED.get(module + "." + name);
        if (c == null) {
            throw new FormatError("refuses to unpickle global '" + module + "." + name + "': only the classes a PyTorch "
                    + "state_dict needs are allowed (the file may be malicious; if it is a whole pickled model, "
                    + "save model.state_dict() instead)");
        }
        return c;
    }

    @Override
    protected Object persistentLoad(Object pid) {
        if (storages == null) throw new FormatError("unexpected persistent id in a pickle that holds no tensors");
        if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0])) {
            throw new FormatError("unsupported persistent id " + PickledTensors.describe(pid)
                    + " (expected ('storage', type, key, location, numel))");
        }
        if (!(t[1] instanceof StorageClass sc)) {
            throw new FormatError("persistent id names " + PickledTensors.describe(t[1]) + ", not a storage type");
        }
        if (!(t[2] instanceof String key)) throw new FormatError("storage key is " + PickledTensors.describe(t[2]));
        long numel = PickledTensors.toLong(t[4], "storage size");
        if (numel < 0) throw new FormatError("storage '" + key + "' has negative size " + numel);
        StorageRef ref = new StorageRef(key, sc.type(), numel, 0, numel);
        if (t.length > 5 && t[5] != null) {     // legacy storage view: (view_key, offset, view_size)
            if (!(t[5] instanceof Object[] v) || v.length != 3) throw new FormatError("malformed storage view metadata");
            long off = PickledTensors.toLong(v[1], "storage view offset");
            long n = PickledTensors.toLong(v[2], "storage view size");
            if (off < 0 || n < 0 || off + n > numel) {
                throw new FormatError("storage view [" + off + ", " + (off + n) + ") lies outside storage '" + key
                        + "' of " + numel + " elements");
            }
            ref = new StorageRef(key, sc.type(), numel, off, n);
        }
        return storages.apply(ref);
    }

    @Override
    protected Object dispatch(short key) throws IOException {
        switch (key) {
            case Opcodes.GLOBAL: {
                String module = PickleUtils.readline(input);
                String name = PickleUtils.readline(input);
                stack.add(resolve(module, name));
                return NO_RETURN_VALUE;
            }
            case Opcodes.STACK_GLOBAL: {
                Object name = stack.pop();
                Object module = stack.pop();
                if (!(module instanceof String m) || !(name instanceof String n)) {
                    throw new FormatError("STACK_GLOBAL without a module and a name");
                }
                stack.add(resolve(m, n));
                return NO_RETURN_VALUE;
            }
            case Opcodes.INST: {
                String module = PickleUtils.readline(input);
                String name = PickleUtils.readline(input);
                IObjectConstructor c = resolve(module, name);
                stack.add(c.construct(stack.pop_all_since_marker().toArray()));
                return NO_RETURN_VALUE;
            }
            case Opcodes.EMPTY_DICT:
                stack.add(new LinkedHashMap<>());
                return NO_RETURN_VALUE;
            case Opcodes.DICT: {
                List<Object> items = stack.pop_all_since_marker();
                Map<Object, Object> d = new LinkedHashMap<>();
                putPairs(d, items);
                stack.add(d);
                return NO_RETURN_VALUE;
            }
            case Opcodes.SETITEMS: {
                List<Object> items = stack.pop_all_since_marker();
                putPairs(dictOnStack(), items);
                return NO_RETURN_VALUE;
            }
            case Opcodes.SETITEM: {
                Object value = stack.pop();
                Object k = stack.pop();
                dictOnStack().put(k, value);
                return NO_RETURN_VALUE;
            }
            case Opcodes.BUILD: {
                stack.pop();
                Object target = stack.peek();
                if (!(target instanceof Map || target instanceof TensorRef)) {
                    throw new FormatError("BUILD (__setstate__) on " + PickledTensors.describe(target));
                }
                return NO_RETURN_VALUE;      // OrderedDict._metadata, tensor state: not needed
            }
            case Opcodes.BINSTRING:
            case Opcodes.BINBYTES:
            case Opcodes.BINUNICODE:
            case Opcodes.LONG4:
                checkLength(4);
                break;
            case Opcodes.BINBYTES8:
            case Opcodes.BINUNICODE8:
            case Opcodes.BYTEARRAY8:
                checkLength(8);
                break;
            default:
                break;
        }
        return super.dispatch(key);
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dictOnStack() {
        Object d = stack.peek();
        if (!(d instanceof Map)) throw new FormatError("SETITEM on " + PickledTensors.describe(d) + ", not a dict");
        return (Map<Object, Object>) d;
    }

    private static void putPairs(Map<Object, Object> d, List<Object> items) {
        if (items.size() % 2 != 0) throw new FormatError("dict items of odd length");
        for (int i = 0; i < items.size(); i += 2) d.put(items.get(i), items.get(i + 1));
    }

    /** Peeks the little-endian length that follows the opcode and checks it against the bytes left. */
    private void checkLength(int width) throws IOException {
        input.mark(width);
        byte[] b = input.readNBytes(width);
        input.reset();
        if (b.length < width) throw new FormatError("truncated pickle (ends inside a length field)");
        long len = 0;
        for (int i = width - 1; i >= 0; i--) len = (len << 8) | (b[i] & 0xff);
        if (width == 4) len = (int) len;      // 4-byte lengths are signed in pickle
        long left = (long) input.available() - width;
        if (len < 0 || len > left) {
            throw new FormatError("truncated or corrupt pickle: a value of " + len + " bytes but only " + Math.max(0, left)
                    + " bytes are left");
        }
    }
}
