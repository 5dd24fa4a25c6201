package dev.bptt4j.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bptt4j ARGS} in a JVM of its own, on the test's class path: for what a test cannot set in
 * its own process (an environment variable, a small -Xmx) and for what a user sees on a real
 * terminal (stderr as printed, the exit status).
 */
final class ChildJvm {
    private ChildJvm() {
    }

    static CommandLineTest.Result run(Path workDir, List<String> jvmOptions, Map<String, String> environment, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        Path out = workDir.resolve("child.out"), err = workDir.resolve("child.err");
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().putAll(environment);
        Process process = pb.start();
        boolean finished = process.waitFor(120, TimeUnit.SECONDS);
        if (!finished) process.destroyForcibly().waitFor();
        assertTrue(finished, "bptt4j " + String.join(" ", args) + " did not finish in 120 s");
        CommandLineTest.Result r = new CommandLineTest.Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        System.out.printf("child: %s bptt4j %s -> exit %d%n%s%s", jvmOptions, String.join(" ", args), r.code(), r.out(), r.err());
        return r;
    }
}
