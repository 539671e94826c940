package dev.sluice.observe.cli;

import dev.sluice.observe.FlowFilters;
import dev.sluice.observe.v1.GetFlowsRequest;
import picocli.CommandLine;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code sluice observe}'s flags read into the Observer API request they make, for other front ends (the web UI's
 * filter box) that should take exactly the same flags with exactly the same meaning.
 */
public final class ObserveFilters {
    private ObserveFilters() {
    }

    /**
     * The request {@code sluice observe ARGS} would send.
     *
     * @throws IllegalArgumentException naming the flag, for flags observe would refuse (and for filters the server would)
     */
    public static GetFlowsRequest request(List<String> args) {
        CommandLine line = new CommandLine(new ObserveCommand());
        try {
            line.parseArgs(args.toArray(String[]::new));
            GetFlowsRequest request = ((ObserveCommand) line.getCommand()).request();
            // As the agent would: a bad regex or port is refused here with its reason, not half-applied.
            FlowFilters.compile(request.getWhitelistList(), request.getBlacklistList());
            dev.sluice.observe.ui.NodeMergeFlowSource.hubble(request); // and as Hubble's messages must carry it
            return request;
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /** Splits a filter line as a shell would split plain words and quoted ones ("Policy denied"). */
    public static List<String> words(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (char c : line.toCharArray()) {
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    word.append(c);
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
            } else {
                word.append(c);
                inWord = true;
            }
        }
        if (quote != 0) {
            throw new IllegalArgumentException("unterminated " + quote + " quote");
        }
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }
}
