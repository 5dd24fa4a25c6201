package dev.bptt4j.cli;

import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The typed option values the commands share and their converters. A converter's message follows
 * picocli's "Invalid value for option '--X': "; it says what was expected and what was given.
 */
final class Options {
    private Options() {
    }

    /** A backend, as {@code Backends.create} names it. */
    enum Device {
        CPU("cpu"), GPU("gpu"), CUDA_EMULATED("cuda-emulated"), AUTO("auto");

        final String label;

        Device(String label) {
            this.label = label;
        }

        @Override
        public String toString() {
            return label;
        }

        /** The label, or "cuda" for the GPU (Backends' alias), case-insensitively; null when none. */
        static Device of(String s) {
            String v = s.trim().toLowerCase(Locale.ROOT);
            if (v.equals("cuda")) return GPU;
            for (Device d : values()) if (d.label.equals(v)) return d;
            return null;
        }
    }

    /** The labels of every device, for {@code ${COMPLETION-CANDIDATES}}. */
    static final class AnyDevice implements ITypeConverter<Device>, Iterable<String> {
        @Override
        public Device convert(String s) {
            Device d = Device.of(s);
            if (d == null) throw new TypeConversionException("expected one of " + String.join(", ", this) + ", got '" + s + "'");
            return d;
        }

        @Override
        public java.util.Iterator<String> iterator() {
            return Arrays.stream(Device.values()).map(d -> d.label).iterator();
        }
    }

    /** A GPU backend, real or emulated: what {@code compare} compares with the CPU. */
    static final class GpuDevice implements ITypeConverter<Device>, Iterable<String> {
        @Override
        public Device convert(String s) {
            Device d = Device.of(s);
            if (d != Device.GPU && d != Device.CUDA_EMULATED) throw new TypeConversionException("expected gpu or cuda-emulated, got '" + s + "'");
            return d;
        }

        @Override
        public java.util.Iterator<String> iterator() {
            return List.of(Device.GPU.label, Device.CUDA_EMULATED.label).iterator();
        }
    }

    /** {@code --device} for the commands that run on one backend. */
    static final class DeviceOption {
        @Option(names = "--device", paramLabel = "DEVICE", order = 900, converter = AnyDevice.class, completionCandidates = AnyDevice.class,
                description = "Backend: ${COMPLETION-CANDIDATES} (default: -Dbptt4j.device or BPTT4J_DEVICE, else auto: the GPU when one"
                        + " is usable, else the CPU).")
        Device device;

        /** The name Backends.create takes; null for its default. */
        String name() {
            return device == null ? null : device.label;
        }
    }

    /** {@code RnnMode.parse}: RNN_TANH, RNN_RELU, LSTM or GRU, case-insensitively. */
    static final class Mode implements ITypeConverter<RnnMode> {
        @Override
        public RnnMode convert(String s) {
            try {
                return RnnMode.parse(s);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("expected one of " + Arrays.stream(RnnMode.values()).map(Enum::name)
                        .collect(Collectors.joining(", ")) + " (any case), got '" + s + "'");
            }
        }
    }

    /** {@code DType.parseFloat}: f32 or f64 (also float32/float, float64/double). */
    static final class FloatType implements ITypeConverter<DType>, Iterable<String> {
        @Override
        public DType convert(String s) {
            try {
                return DType.parseFloat(s);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("expected f32 or f64, got '" + s + "'");
            }
        }

        @Override
        public java.util.Iterator<String> iterator() {
            return List.of("f32", "f64").iterator();
        }
    }

    static int integer(String s) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("expected an integer, got '" + s + "'");
        }
    }

    /** A size: an integer >= 1. */
    static final class Size implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            int v = integer(s);
            if (v < 1) throw new TypeConversionException("expected an integer >= 1, got " + v);
            return v;
        }
    }

    /** Activation checkpoints: "auto" (every ⌈√T⌉ steps) or a step count k >= 1. */
    static final class CheckpointInterval implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            if (s.trim().equalsIgnoreCase("auto")) return dev.bptt4j.model.RnnConfig.AUTO_CHECKPOINTS;
            int v;
            try {
                v = Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("expected auto or a number of steps >= 1, got '" + s + "'");
            }
            if (v < 1) throw new TypeConversionException("expected auto or a number of steps >= 1, got " + v);
            return v;
        }
    }

    /** A count that may be zero: an integer >= 0. */
    static final class Count implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            int v = integer(s);
            if (v < 0) throw new TypeConversionException("expected an integer >= 0, got " + v);
            return v;
        }
    }

    /** A number >= 0 (seconds). */
    static final class NonNegative implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            double v;
            try {
                v = Double.parseDouble(s.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("expected a number, got '" + s + "'");
            }
            if (!(v >= 0) || Double.isInfinite(v)) throw new TypeConversionException("expected a number >= 0, got " + s.trim());
            return v;
        }
    }

    /** A positive number (seconds). */
    static final class Positive implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            double v;
            try {
                v = Double.parseDouble(s.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("expected a number, got '" + s + "'");
            }
            if (!(v > 0)) throw new TypeConversionException("expected a positive number, got " + s.trim());
            return v;
        }
    }

    /** Any integer (a seed): a long. */
    static final class AnyLong implements ITypeConverter<Long> {
        @Override
        public Long convert(String s) {
            try {
                return Long.parseLong(s.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("expected an integer, got '" + s + "'");
            }
        }
    }

    /** A fraction in [0, 1) (dropout). */
    static final class Fraction implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            double v = new NonNegative().convert(s);
            if (v >= 1) throw new TypeConversionException("expected a number >= 0 and < 1, got " + s.trim());
            return v;
        }
    }

    /** A fraction in (0, 1) (the held-out part of a text). */
    static final class OpenFraction implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            double v = new Positive().convert(s);
            if (v >= 1) throw new TypeConversionException("expected a number > 0 and < 1, got " + s.trim());
            return v;
        }
    }
}
