#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0
# A stand-in for the kernel's scripts/checkpatch.pl, for l2wg's unit tests
# (tests/data/submit/README; the integration tests run the real one).  Three
# of its checks, printed as the real script prints them with --terse
# --showfile --show-types, and its exit status: 1 after an ERROR or a WARNING.
#   ERROR:TRAILING_WHITESPACE   an added line ends in a space or a tab
#   WARNING:TYPO_SPELLING       a word of scripts/spelling.txt ("wrong||right")
#   WARNING:FILE_PATH_CHANGES   the patch adds or deletes a file
use strict;
use warnings;
use File::Basename;

my $top = dirname(dirname(__FILE__));
my %typos;
if (open(my $list, '<', "$top/scripts/spelling.txt")) {
	while (<$list>) {
		chomp;
		my ($wrong, $right) = split /\|\|/;
		$typos{lc $wrong} = $right if defined $right && !/^#/;
	}
}

my $failed = 0;
sub report {
	my ($where, $level, $type, $text) = @_;
	print "$where: $level:$type: $text\n";
	$failed = 1 if $level ne 'CHECK';
}

sub typos {
	my ($where, $text) = @_;
	for my $word ($text =~ /\b([A-Za-z]+)\b/g) {
		my $right = $typos{lc $word};
		report($where, 'WARNING', 'TYPO_SPELLING',
		       "'$word' may be misspelled - perhaps '$right'?") if $right;
	}
}

for my $patch (grep { !/^-/ } @ARGV) {
	open(my $in, '<', $patch) or die "$patch: $!\n";
	my ($file, $line, $in_diff, $path_changes) = ('', 0, 0, 0);
	while (<$in>) {
		chomp;
		if (/^diff --git /) {
			$in_diff = 1;
		} elsif (/^(?:---|\+\+\+) \/dev\/null$/) {
			$path_changes ||= $.;
		} elsif (/^\+\+\+ b\/(\S+)$/) {
			$file = $1;
		} elsif (/^@@ -\d+(?:,\d+)? \+(\d+)/) {
			$line = $1;
		} elsif ($in_diff && /^\+(.*)$/) {
			report("$file:$line", 'ERROR', 'TRAILING_WHITESPACE', 'trailing whitespace')
				if $1 =~ /[ \t]$/;
			typos("$file:$line", $1);
			$line++;
		} elsif ($in_diff && /^ /) {
			$line++;
		} elsif (!$in_diff && !/^[A-Za-z-]+: /) {
			typos("$patch:$.", $_);
		} elsif (/^Subject: (.*)$/) {
			typos("$patch:$.", $1);
		}
	}
	report("$patch:$path_changes", 'WARNING', 'FILE_PATH_CHANGES',
	       'added, moved or deleted file(s), does MAINTAINERS need updating?')
		if $path_changes;
}
exit $failed;
