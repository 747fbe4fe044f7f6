#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0
# A stand-in for the kernel's scripts/get_maintainer.pl, for l2wg's unit
# tests (tests/data/submit/README; the integration tests run the real one).
# The files are those of -f FILE, else those the patches named on the
# command line (or the one on stdin, as b4 gives it) add, change or delete.
# Every MAINTAINERS section with an F: pattern that matches one of them,
# the most specific pattern first (the deepest directory), gives its M:
# entries (not with --nom) and then its L: lists (not with --nol), each
# address once.  Linus Torvalds, THE REST's maintainer, is left
# out, as the real script does without --git-chief-penguins.
use strict;
use warnings;
use File::Basename;

my $top = dirname(dirname(__FILE__));
my ($nom, $nol, @files, @patches) = (0, 0);
while (@ARGV) {
	my $arg = shift @ARGV;
	if ($arg eq '--nom') { $nom = 1 }
	elsif ($arg eq '--nol') { $nol = 1 }
	elsif ($arg eq '-f') { push @files, shift @ARGV }
	elsif ($arg !~ /^-/) { push @patches, $arg }
}
if (!@files) {
	my @text;
	if (@patches) {
		for my $patch (@patches) {
			open(my $in, '<', $patch) or die "$patch: $!\n";
			push @text, <$in>;
		}
	} else {
		@text = <STDIN>;
	}
	for (@text) {
		push @files, $1 if m{^(?:\+\+\+ b|--- a)/(\S+)$};
	}
}

my (@sections, $section);
open(my $maintainers, '<', "$top/MAINTAINERS") or die "$top/MAINTAINERS: $!\n";
while (<$maintainers>) {
	chomp;
	if (/^([A-Z]):\s*(.*)$/ && $section) {
		push @{$section->{$1}}, $2;
	} elsif (/^\S/) {
		$section = {};
		push @sections, $section;
	} else {
		$section = undef;
	}
}

sub matches {
	my ($pattern, $file) = @_;
	my $re = quotemeta($pattern);
	$re =~ s/\\\*/[^\/]*/g;
	$re =~ s/\\\?/[^\/]/g;
	return $pattern =~ m{/$} ? $file =~ /^$re/ : $file =~ /^$re$/;
}

# How deep the section's most specific matching pattern is: 0 when none matches.
sub depth {
	my ($section) = @_;
	my $depth = 0;
	for my $pattern (@{$section->{F} // []}) {
		next unless grep { matches($pattern, $_) } @files;
		my $d = ($pattern =~ tr{/}{}) + ($pattern =~ m{/$} ? 0 : 1);
		$depth = $d if $d > $depth;
	}
	return $depth;
}

my (@maintainers, @lists, %seen);
my %depth = map { $_ => depth($sections[$_]) } 0 .. $#sections;
for my $i (sort { $depth{$b} <=> $depth{$a} || $a <=> $b } grep { $depth{$_} } keys %depth) {
	push @maintainers, @{$sections[$i]->{M} // []};
	push @lists, @{$sections[$i]->{L} // []};
}
for my $entry (($nom ? () : @maintainers), ($nol ? () : @lists)) {
	my ($address) = $entry =~ /<([^>]+)>/;
	$address //= $entry;
	next if $seen{lc $address}++ || lc $address eq 'torvalds@linux-foundation.org';
	print "$entry\n";
}
